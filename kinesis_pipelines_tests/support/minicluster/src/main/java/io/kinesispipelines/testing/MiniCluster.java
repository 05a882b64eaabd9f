package io.kinesispipelines.testing;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.lang.reflect.Field;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import com.google.inject.servlet.GuiceFilter;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.hdfs.MiniDFSCluster;
import org.apache.hadoop.yarn.conf.YarnConfiguration;
import org.apache.hadoop.yarn.server.MiniYARNCluster;
import org.apache.hadoop.yarn.server.resourcemanager.ResourceManager;
import org.apache.hadoop.yarn.webapp.WebApp;

/**
 * HDFS (one datanode) and YARN (one NodeManager) in this JVM, bound to 127.0.0.1.
 *
 * <p>Usage: {@code MiniCluster CONF_DIR BASE_DIR NM_MEMORY_MB NM_VCORES}. Once both are up it writes
 * their client configuration (core-site.xml, hdfs-site.xml, yarn-site.xml) into CONF_DIR, for
 * HADOOP_CONF_DIR, prints one line {@code READY <defaultFS> <ResourceManager web address>}, and runs
 * until its standard input closes or it is told to stop.
 */
public final class MiniCluster {

  public static void main(String[] args) throws Exception {
    Path confDir = Paths.get(args[0]);
    Path baseDir = Paths.get(args[1]);
    String memoryMb = args[2];
    String vcores = args[3];

    Configuration conf = new YarnConfiguration();
    conf.set(MiniDFSCluster.HDFS_MINIDFS_BASEDIR, baseDir.resolve("hdfs").toString());
    conf.set("hadoop.tmp.dir", baseDir.resolve("tmp").toString());
    conf.set("dfs.namenode.rpc-bind-host", "127.0.0.1");
    conf.set("dfs.datanode.address", "127.0.0.1:0");
    conf.set("dfs.datanode.http.address", "127.0.0.1:0");
    conf.set("dfs.datanode.ipc.address", "127.0.0.1:0");
    conf.set("dfs.namenode.http-address", "127.0.0.1:0");
    conf.setBoolean("dfs.permissions.enabled", false);
    conf.set("yarn.scheduler.capacity.root.queues", "default");
    conf.set("yarn.scheduler.capacity.root.default.capacity", "100");
    conf.set("yarn.nodemanager.resource.memory-mb", memoryMb);
    // MiniYARNCluster overwrites the key above with this one (4096 unless set)
    conf.set("yarn.minicluster.yarn.nodemanager.resource.memory-mb", memoryMb);
    conf.set("yarn.nodemanager.resource.cpu-vcores", vcores);
    conf.set("yarn.scheduler.maximum-allocation-mb", memoryMb);
    conf.set("yarn.scheduler.maximum-allocation-vcores", vcores);
    conf.set("yarn.scheduler.minimum-allocation-mb", "128");
    // the tests' machine is small and busy: do not let disk-usage checks mark the node unhealthy
    conf.set("yarn.nodemanager.disk-health-checker.max-disk-utilization-per-disk-percentage", "99.9");
    conf.setBoolean("yarn.nodemanager.vmem-check-enabled", false);
    conf.setBoolean("yarn.nodemanager.pmem-check-enabled", false);
    conf.set("yarn.nodemanager.hostname", "127.0.0.1");
    conf.set("yarn.resourcemanager.hostname", "127.0.0.1");
    conf.set("yarn.nodemanager.log.retain-seconds", "3600");
    // room for the tests' ApplicationMaster attempts (YARN's default caps them at 2)
    conf.set("yarn.resourcemanager.am.max-attempts", "4");
    // the node's containers stop at once when the cluster stops (YARN waits for them otherwise)
    conf.set("yarn.nodemanager.sleep-delay-before-sigkill.ms", "250");

    MiniDFSCluster dfs = new MiniDFSCluster.Builder(conf).numDataNodes(1).build();
    dfs.waitActive();
    conf.set("fs.defaultFS", dfs.getFileSystem().getUri().toString());

    // The ResourceManager's own addresses, not MiniYARNCluster's "localhost:0": the RM caches its
    // web proxy address when its web app starts, and from an ephemeral web port that is
    // "localhost:0", which every application's tracking URL then carries. Its RPC servers still take
    // ephemeral ports (and write them back into the configuration); its web port is picked here.
    conf.setBoolean("yarn.minicluster.fixed.ports", true);
    for (String key :
        new String[] {
          "yarn.resourcemanager.address",
          "yarn.resourcemanager.admin.address",
          "yarn.resourcemanager.scheduler.address",
          "yarn.resourcemanager.resource-tracker.address"
        }) {
      conf.set(key, "127.0.0.1:0");
    }
    conf.set("yarn.resourcemanager.webapp.address", "127.0.0.1:" + freePort());

    MiniYARNCluster yarn = new MiniYARNCluster("kinesis-pipelines-tests", 1, 1, 1);
    yarn.init(conf);
    yarn.start();
    pinGuicePipeline(yarn.getResourceManager());

    Configuration client = new Configuration(yarn.getConfig());
    client.set("fs.defaultFS", dfs.getFileSystem().getUri().toString());
    // a test class the Spark's shaded Hadoop client lacks
    client.set("net.topology.node.switch.mapping.impl", "org.apache.hadoop.net.ScriptBasedMapping");
    java.net.InetSocketAddress http = dfs.getNameNode().getHttpAddress();
    client.set("dfs.namenode.http-address", "127.0.0.1:" + http.getPort());
    Files.createDirectories(confDir);
    for (String name : new String[] {"core-site.xml", "hdfs-site.xml", "yarn-site.xml"}) {
      try (OutputStream out = Files.newOutputStream(confDir.resolve(name))) {
        client.writeXml(out);
      }
    }
    String web = client.get("yarn.resourcemanager.webapp.address");
    System.out.println("READY " + client.get("fs.defaultFS") + " " + web);
    System.out.flush();

    BufferedReader stdin = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    while (stdin.readLine() != null) {
      // keep running until the tests close standard input
    }
    yarn.stop();
    dfs.shutdown();
    System.exit(0);
  }

  /**
   * Makes the ResourceManager's web server answer its own REST API (/ws/v1/cluster) again.
   *
   * <p>Each YARN web app registers Guice's GuiceFilter with Jetty by class name, so Jetty makes the
   * instance, and such an instance serves the JVM-wide static pipeline that the last Guice injector
   * set: here the NodeManager's, started after the ResourceManager, whose routes 404 every
   * /ws/v1/cluster request. The injector's own GuiceFilter, which WebApp keeps, holds the
   * ResourceManager's pipeline: hand that pipeline to the filter Jetty runs.
   */
  private static void pinGuicePipeline(ResourceManager rm) throws ReflectiveOperationException {
    WebApp webApp = (WebApp) field(ResourceManager.class, "webApp").get(rm);
    Object injected = field(WebApp.class, "guiceFilter").get(webApp);
    Field pipeline = field(GuiceFilter.class, "injectedPipeline");
    Object running =
        webApp.httpServer().getWebAppContext().getServletHandler().getFilter("guice").getFilter();
    pipeline.set(running, pipeline.get(injected));
  }

  private static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
      return socket.getLocalPort();
    }
  }

  private static Field field(Class<?> owner, String name) throws NoSuchFieldException {
    Field field = owner.getDeclaredField(name);
    field.setAccessible(true);
    return field;
  }
}
