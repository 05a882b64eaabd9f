package io.kinesispipelines.spark;

import java.math.BigInteger;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.Map;
import org.apache.spark.Dependency;
import org.apache.spark.rdd.RDD;
import org.apache.spark.streaming.kinesis.KinesisBackedBlockRDD;
import org.apache.spark.streaming.kinesis.SequenceNumberRange;
import org.apache.spark.streaming.kinesis.SequenceNumberRanges;
import scala.collection.Iterator;

/**
 * The last sequence number of each shard in a batch, for Python.
 *
 * <p>The receivers store each block with the sequence number range it holds per shard; the batch's
 * RDD (one {@code KinesisBackedBlockRDD} per receiver, unioned) keeps those ranges. Once the batch
 * is published, these positions are where the pipeline has delivered each shard up to: what a new
 * generation that cannot recover the old one's checkpoint must start from, so that nothing that
 * generation received and never delivered is skipped.
 */
public final class ShardPositions {

  private ShardPositions() {}

  /** Shard id to the batch's highest sequence number, over every Kinesis block RDD in its lineage. */
  public static Map<String, String> of(RDD<?> batch) {
    Map<String, String> positions = new HashMap<>();
    Map<RDD<?>, Boolean> seen = new IdentityHashMap<>();
    Deque<RDD<?>> pending = new ArrayDeque<>();
    pending.push(batch);
    while (!pending.isEmpty()) {
      RDD<?> rdd = pending.pop();
      if (seen.put(rdd, Boolean.TRUE) != null) {
        continue;
      }
      if (rdd instanceof KinesisBackedBlockRDD) {
        for (SequenceNumberRanges ranges : ((KinesisBackedBlockRDD<?>) rdd).arrayOfseqNumberRanges()) {
          Iterator<SequenceNumberRange> each = ranges.ranges().iterator();
          while (each.hasNext()) {
            SequenceNumberRange range = each.next();
            positions.merge(range.shardId(), range.toSeqNumber(), ShardPositions::later);
          }
        }
      }
      Iterator<Dependency<?>> dependencies = rdd.dependencies().iterator();
      while (dependencies.hasNext()) {
        pending.push(dependencies.next().rdd());
      }
    }
    return positions;
  }

  static String later(String a, String b) {
    return new BigInteger(a).compareTo(new BigInteger(b)) >= 0 ? a : b;
  }
}
