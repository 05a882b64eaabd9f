package io.kinesispipelines.spark;

import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.spark.streaming.StreamingContext;
import scala.reflect.ClassTag$;

/**
 * Stops a streaming job's receivers and nothing else, so that a graceful stop that follows
 * processes every block they received.
 *
 * <p>Spark's own graceful stop ({@code ReceiverTracker.stop(true)}) stops the receivers, then closes
 * the driver's write-ahead log of block allocations at once; the job generator, which must still
 * allocate the last received blocks to batches, then fails to write each allocation, the blocks stay
 * unallocated, and the stop waits for them until {@code spark.streaming.gracefulStopTimeout} cuts it
 * off: what was received is dropped from the job (its KCL checkpoints are already past it). This
 * does the first half of that stop (the tracker marked stopping, so that it starts no receiver
 * again; the receivers asked to stop; their job waited for) and leaves the log open. The tracker
 * then counts as stopped for {@code StreamingContext.stop}, which only allocates, processes and
 * exits.
 *
 * <p>Spark's classes are reached by reflection: their members are private to Scala.
 */
public final class StopIntake {

  private StopIntake() {}

  /** Returns once every receiver has stopped (or after {@code timeoutSeconds}); false if not all did. */
  public static boolean stopReceivers(StreamingContext ssc, long timeoutSeconds) throws Exception {
    Object tracker = ssc.scheduler().receiverTracker();
    if (tracker == null) {
      return true;
    }
    Object trackerStates = method(tracker, "TrackerState").invoke(tracker);
    Object stopping = method(trackerStates, "Stopping").invoke(trackerStates);
    field(tracker, "trackerState").set(tracker, stopping);
    Object endpoint = field(tracker, "endpoint").get(tracker);
    if (endpoint != null) {
      Object message = Class.forName("org.apache.spark.streaming.scheduler.StopAllReceivers$")
          .getField("MODULE$")
          .get(null);
      Method ask = endpoint.getClass().getMethod("askSync", Object.class, scala.reflect.ClassTag.class);
      ask.invoke(endpoint, message, ClassTag$.MODULE$.Boolean());
    }
    CountDownLatch receiverJobs = (CountDownLatch) field(tracker, "receiverJobExitLatch").get(tracker);
    return receiverJobs.await(timeoutSeconds, TimeUnit.SECONDS);
  }

  /** Whether blocks received are still waiting to be allocated to a batch. */
  public static boolean hasUnallocatedBlocks(StreamingContext ssc) {
    return ssc.scheduler().receiverTracker().hasUnallocatedBlocks();
  }

  private static Field field(Object owner, String name) throws NoSuchFieldException {
    for (Class<?> type = owner.getClass(); type != null; type = type.getSuperclass()) {
      for (Field field : type.getDeclaredFields()) {
        if (field.getName().equals(name) || field.getName().endsWith("$$" + name)) {
          field.setAccessible(true);
          return field;
        }
      }
    }
    throw new NoSuchFieldException(owner.getClass().getName() + "." + name);
  }

  private static Method method(Object owner, String name) throws NoSuchMethodException {
    for (Class<?> type = owner.getClass(); type != null; type = type.getSuperclass()) {
      for (Method method : type.getDeclaredMethods()) {
        if ((method.getName().equals(name) || method.getName().endsWith("$$" + name))
            && method.getParameterCount() == 0) {
          method.setAccessible(true);
          return method;
        }
      }
    }
    throw new NoSuchMethodException(owner.getClass().getName() + "." + name);
  }
}
