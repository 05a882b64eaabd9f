package io.kinesispipelines.spark;

import com.amazonaws.services.kinesis.clientlibrary.types.UserRecord;
import com.amazonaws.services.kinesis.metrics.interfaces.MetricsLevel;
import com.amazonaws.services.kinesis.model.Record;
import java.io.Serializable;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import org.apache.spark.storage.StorageLevel;
import org.apache.spark.streaming.Duration;
import org.apache.spark.streaming.api.java.JavaDStream;
import org.apache.spark.streaming.api.java.JavaStreamingContext;
import org.apache.spark.streaming.kinesis.KinesisInitialPositions;
import org.apache.spark.streaming.kinesis.KinesisInputDStream;
import org.apache.spark.streaming.kinesis.SparkAWSCredentials;
import scala.reflect.ClassTag;
import scala.reflect.ClassTag$;
import scala.runtime.AbstractFunction1;

/**
 * Kinesis input DStreams whose elements carry each record's identity, for Python.
 *
 * <p>pyspark's {@code KinesisUtils.createStream} hands Python the record's data only. Each element
 * here is a header line, then the record's data. The header is the record's key, its partition key
 * (URL-safe Base64 of its UTF-8) and its approximate arrival time in epoch milliseconds, separated by
 * spaces; what a dead letter says of a record that cannot be processed. The key is the record's sequence
 * number (with its sub-sequence number for a KPL-aggregated user record) and a hash of its partition
 * key: what identifies a record within a stream, so that a record KCL reads a second time (after a
 * lease moves between workers, or after a restart from a KCL checkpoint) can be recognised.
 *
 * <p>With a role to assume, KCL's credentials are {@link AssumedRoleCredentials}: the resolved
 * STS endpoint, and the external id read from the environment, never held.
 */
public final class KeyedKinesisStreams {

  /** The element for one record: {@code key ' ' partitionKeyBase64 ' ' arrivalMillis '\n' data}. */
  static final class KeyedRecord extends AbstractFunction1<Record, byte[]> implements Serializable {
    private static final long serialVersionUID = 1L;

    @Override
    public byte[] apply(Record record) {
      byte[] key = headerOf(record).getBytes(StandardCharsets.UTF_8);
      ByteBuffer data = record.getData().asReadOnlyBuffer();
      byte[] element = new byte[key.length + 1 + data.remaining()];
      System.arraycopy(key, 0, element, 0, key.length);
      element[key.length] = '\n';
      data.get(element, key.length + 1, data.remaining());
      return element;
    }
  }

  static String headerOf(Record record) {
    String partitionKey = record.getPartitionKey() == null ? "" : record.getPartitionKey();
    long arrival = record.getApproximateArrivalTimestamp() == null ? 0L : record.getApproximateArrivalTimestamp().getTime();
    return keyOf(record)
        + ' '
        + Base64.getUrlEncoder().encodeToString(partitionKey.getBytes(StandardCharsets.UTF_8))
        + ' '
        + arrival;
  }

  static String keyOf(Record record) {
    StringBuilder key = new StringBuilder(record.getSequenceNumber());
    if (record instanceof UserRecord && ((UserRecord) record).isAggregated()) {
      key.append('.').append(((UserRecord) record).getSubSequenceNumber());
    }
    String partitionKey = record.getPartitionKey();
    key.append(':').append(Integer.toHexString(partitionKey == null ? 0 : partitionKey.hashCode()));
    return key.toString();
  }

  public JavaDStream<byte[]> createStream(
      JavaStreamingContext jssc,
      String applicationName,
      String streamName,
      String endpointUrl,
      String regionName,
      String initialPosition,
      long initialTimestampMillis,
      long checkpointIntervalMillis,
      StorageLevel storageLevel,
      String metricsLevel,
      String roleArn,
      String sessionName,
      String externalIdEnv,
      String stsEndpoint,
      int sessionDurationSeconds) {
    KinesisInputDStream.Builder builder =
        KinesisInputDStream.builder()
            .streamingContext(jssc)
            .checkpointAppName(applicationName)
            .streamName(streamName)
            .endpointUrl(endpointUrl)
            .regionName(regionName)
            .checkpointInterval(new Duration(checkpointIntervalMillis))
            .storageLevel(storageLevel)
            .metricsLevel(MetricsLevel.fromName(metricsLevel));
    switch (initialPosition) {
      case "TRIM_HORIZON":
        builder = builder.initialPosition(new KinesisInitialPositions.TrimHorizon());
        break;
      case "LATEST":
        builder = builder.initialPosition(new KinesisInitialPositions.Latest());
        break;
      case "AT_TIMESTAMP":
        builder =
            builder.initialPosition(
                new KinesisInitialPositions.AtTimestamp(new java.util.Date(initialTimestampMillis)));
        break;
      default:
        throw new IllegalArgumentException(
            "initial position must be TRIM_HORIZON, LATEST or AT_TIMESTAMP, not " + initialPosition);
    }
    if (roleArn != null) {
      SparkAWSCredentials credentials =
          new AssumedRoleCredentials(roleArn, sessionName, externalIdEnv, stsEndpoint, sessionDurationSeconds);
      builder = builder.kinesisCredentials(credentials);  // DynamoDB and CloudWatch use them too
    }
    ClassTag<byte[]> bytes = ClassTag$.MODULE$.apply(byte[].class);
    KinesisInputDStream<byte[]> stream = builder.buildWithMessageHandler(new KeyedRecord(), bytes);
    return new JavaDStream<>(stream, bytes);
  }
}
