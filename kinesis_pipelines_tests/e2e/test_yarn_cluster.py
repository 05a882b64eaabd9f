"""The cluster the YARN backend will run on (issue 10): a Python application submitted with
`spark-submit --master yarn --deploy-mode cluster` runs its driver in YARN's ApplicationMaster,
writes to HDFS, and YARN reports it SUCCEEDED. The output is read back through WebHDFS."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from xml.etree import ElementTree

import pytest
import requests

from kinesis_pipelines.tools import spark_submit
from kinesis_pipelines_tests.support.yarn import YarnCluster

pytestmark = pytest.mark.e2e

APP = textwrap.dedent(
    """
    import sys
    from pyspark import SparkContext

    sc = SparkContext.getOrCreate()
    sc.parallelize(range(1000), 2).map(lambda n: str(n * n)).saveAsTextFile(sys.argv[1])
    sc.stop()
    """
)


def test_python_app_runs_in_yarn_cluster_mode_and_writes_hdfs(
    yarn_cluster: YarnCluster, tmp_path: Path
) -> None:
    app = tmp_path / "squares.py"
    app.write_text(APP)
    output = f"{yarn_cluster.default_fs}/tests/squares-{time.time_ns()}"
    env = {**os.environ, "HADOOP_CONF_DIR": str(yarn_cluster.conf_dir), "SPARK_LOCAL_IP": "127.0.0.1"}
    submitted = subprocess.run(
        [spark_submit(), "--master", "yarn", "--deploy-mode", "cluster", "--name", "kp-yarn-smoke",
         "--conf", f"spark.yarn.appMasterEnv.PYSPARK_PYTHON={sys.executable}",
         "--conf", f"spark.executorEnv.PYSPARK_PYTHON={sys.executable}",
         "--conf", "spark.driver.memory=512m", "--conf", "spark.executor.memory=512m",
         "--conf", "spark.executor.instances=1", "--conf", "spark.yarn.am.memory=512m",
         str(app), output],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    # spark-submit waits for the application and fails unless YARN reports it SUCCEEDED
    said = submitted.stdout + submitted.stderr
    assert submitted.returncode == 0, said[-3000:]
    assert "final status: SUCCEEDED" in said, said[-3000:]
    # and the ResourceManager's REST API, which the YARN backend reads, says the same
    application = re.findall(r"application_\d+_\d+", said)[-1]
    app = requests.get(f"http://{yarn_cluster.rm_web}/ws/v1/cluster/apps/{application}", timeout=10).json()[
        "app"
    ]
    assert (app["state"], app["finalStatus"]) == ("FINISHED", "SUCCEEDED"), app
    namenode = _webhdfs(yarn_cluster)
    path = output.split(yarn_cluster.default_fs, 1)[1]
    listing = requests.get(f"{namenode}{path}", params={"op": "LISTSTATUS"}, timeout=10).json()
    parts = sorted(
        s["pathSuffix"] for s in listing["FileStatuses"]["FileStatus"] if s["pathSuffix"].startswith("part-")
    )
    lines: list[str] = []
    for part in parts:
        opened = requests.get(
            f"{namenode}{path}/{part}", params={"op": "OPEN", "noredirect": "false"}, timeout=10
        )
        lines += opened.text.split()
    assert sorted(map(int, lines)) == [n * n for n in range(1000)]


def _webhdfs(cluster: YarnCluster) -> str:
    properties = ElementTree.parse(cluster.conf_dir / "hdfs-site.xml").getroot()
    values = {p.findtext("name"): p.findtext("value") for p in properties.iter("property")}
    return f"http://{values['dfs.namenode.http-address']}/webhdfs/v1"
