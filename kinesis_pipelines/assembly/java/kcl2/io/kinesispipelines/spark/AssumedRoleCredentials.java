package io.kinesispipelines.spark;

import java.net.URI;
import org.apache.spark.streaming.kinesis.SparkAWSCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.services.sts.StsClient;
import software.amazon.awssdk.services.sts.StsClientBuilder;
import software.amazon.awssdk.services.sts.auth.StsAssumeRoleCredentialsProvider;
import software.amazon.awssdk.services.sts.model.AssumeRoleRequest;

/**
 * KCL's credentials from an assumed role (Kinesis, DynamoDB, CloudWatch), for the KCL 2 profile
 * (Spark 4.2+, AWS SDK v2). The same contract as the KCL 1 helper of this name: the resolved
 * regional STS endpoint, the external id read from the environment variable it names (never held,
 * because this object is written into Spark checkpoints), and the session duration. The region is
 * the SDK's default chain (AWS_REGION, which the submit sets on every node).
 */
public final class AssumedRoleCredentials implements SparkAWSCredentials {
  private static final long serialVersionUID = 1L;

  private final String roleArn;
  private final String sessionName;
  private final String externalIdEnv;
  private final String stsEndpoint;
  private final int sessionDurationSeconds;
  private transient AwsCredentialsProvider provider;

  public AssumedRoleCredentials(
      String roleArn, String sessionName, String externalIdEnv, String stsEndpoint, int sessionDurationSeconds) {
    this.roleArn = roleArn;
    this.sessionName = sessionName;
    this.externalIdEnv = externalIdEnv;
    this.stsEndpoint = stsEndpoint;
    this.sessionDurationSeconds = sessionDurationSeconds;
  }

  @Override
  public synchronized AwsCredentialsProvider provider() {
    if (provider == null) {
      AssumeRoleRequest.Builder request =
          AssumeRoleRequest.builder()
              .roleArn(roleArn)
              .roleSessionName(sessionName)
              .durationSeconds(sessionDurationSeconds);
      if (externalIdEnv != null) {
        String externalId = System.getenv(externalIdEnv);
        if (externalId == null || externalId.isEmpty()) {
          throw new IllegalStateException(
              "credentials.external_id_env names "
                  + externalIdEnv
                  + ", which is not set in this JVM's environment: set it where the driver and"
                  + " executors run");
        }
        request = request.externalId(externalId);
      }
      StsClientBuilder sts = StsClient.builder().credentialsProvider(DefaultCredentialsProvider.create());
      if (stsEndpoint != null) {
        sts = sts.endpointOverride(URI.create(stsEndpoint));
      }
      provider =
          StsAssumeRoleCredentialsProvider.builder()
              .stsClient(sts.build())
              .refreshRequest(request.build())
              .build();
    }
    return provider;
  }
}
