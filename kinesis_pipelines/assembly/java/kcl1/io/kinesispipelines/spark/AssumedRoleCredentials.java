package io.kinesispipelines.spark;

import com.amazonaws.auth.AWSCredentialsProvider;
import com.amazonaws.auth.DefaultAWSCredentialsProviderChain;
import com.amazonaws.auth.STSAssumeRoleSessionCredentialsProvider;
import org.apache.spark.streaming.kinesis.SparkAWSCredentials;

/**
 * KCL's credentials from an assumed role, for the receivers (Kinesis, DynamoDB, CloudWatch).
 *
 * <p>Unlike Spark's own STS credentials, this one:
 *
 * <ul>
 *   <li>calls the regional STS endpoint that the orchestrator resolved. That endpoint is
 *       partition-aware, and for emulators it is the emulator's. The SDK's default is the global
 *       {@code sts.amazonaws.com}, which does not serve the China partition.
 *   <li>holds only the <em>name</em> of the environment variable that has the external id, never
 *       the id itself. The object is written into Spark checkpoints with the DStream graph.
 *   <li>sets the session duration.
 * </ul>
 *
 * <p>Refreshes before expiry are the SDK's. The provider is built lazily in each JVM that uses it.
 */
public final class AssumedRoleCredentials implements SparkAWSCredentials {
  private static final long serialVersionUID = 1L;

  private final String roleArn;
  private final String sessionName;
  private final String externalIdEnv;
  private final String stsEndpoint;
  private final int sessionDurationSeconds;
  private transient AWSCredentialsProvider provider;

  public AssumedRoleCredentials(
      String roleArn, String sessionName, String externalIdEnv, String stsEndpoint, int sessionDurationSeconds) {
    this.roleArn = roleArn;
    this.sessionName = sessionName;
    this.externalIdEnv = externalIdEnv;
    this.stsEndpoint = stsEndpoint;
    this.sessionDurationSeconds = sessionDurationSeconds;
  }

  @Override
  public synchronized AWSCredentialsProvider provider() {
    if (provider == null) {
      STSAssumeRoleSessionCredentialsProvider.Builder builder =
          new STSAssumeRoleSessionCredentialsProvider.Builder(roleArn, sessionName)
              .withLongLivedCredentialsProvider(new DefaultAWSCredentialsProviderChain())
              .withRoleSessionDurationSeconds(sessionDurationSeconds);
      if (externalIdEnv != null) {
        String externalId = System.getenv(externalIdEnv);
        if (externalId == null || externalId.isEmpty()) {
          throw new IllegalStateException(
              "credentials.external_id_env names "
                  + externalIdEnv
                  + ", which is not set in this JVM's environment: set it where the driver and"
                  + " executors run");
        }
        builder = builder.withExternalId(externalId);
      }
      if (stsEndpoint != null) {
        builder = builder.withServiceEndpoint(stsEndpoint);
      }
      provider = builder.build();
    }
    return provider;
  }
}
