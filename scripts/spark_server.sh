#!/usr/bin/env bash
# Start a Spark Thrift server or a Spark Connect server from the pyspark install, with the
# settings of the `spark` profile output (profiles.yml): with the `spark_thrift` and
# `spark_connect` outputs those settings live in the server, not in the profile. See docs/spark.md.
#
#   scripts/spark_server.sh connect   # Spark Connect on SPARK_CONNECT_PORT (default 15002)
#   scripts/spark_server.sh thrift    # Thrift (HiveServer2) on SPARK_THRIFT_PORT (default 10000),
#                                     # plus Spark Connect on SPARK_CONNECT_PORT in the same
#                                     # application, for the Python models (models/ml)
#
# Runs in the foreground (the process is the server's JVM): put it in the background with `&`
# and stop it with `kill <pid>`. Environment: SPARK_PYTHON (a Python with pyspark, default
# python3), SPARK_WAREHOUSE_DIR (default spark-warehouse, made absolute here), SPARK_MASTER
# (default local[*]), SPARK_DRIVER_MEMORY (default 2g), SPARK_BIND_HOST (default 127.0.0.1).
set -euo pipefail

kind=${1:?usage: scripts/spark_server.sh thrift|connect}
spark_home=$("${SPARK_PYTHON:-python3}" -c 'import os, pyspark; print(os.path.dirname(pyspark.__file__))')
warehouse=$(realpath -m "${SPARK_WAREHOUSE_DIR:-spark-warehouse}")
host=${SPARK_BIND_HOST:-127.0.0.1}
connect_port=${SPARK_CONNECT_PORT:-15002}
mkdir -p "$warehouse"
export SPARK_LOCAL_IP=${SPARK_LOCAL_IP:-127.0.0.1}

# The `spark` output's server_side_parameters, plus the Hive catalog (dbt-spark's session method
# calls enableHiveSupport) and ANSI off (dbt-spark also asks for it per session).
confs=(
  --master "${SPARK_MASTER:-local[*]}"
  --driver-memory "${SPARK_DRIVER_MEMORY:-2g}"
  --conf spark.sql.catalogImplementation=hive
  --conf "spark.sql.warehouse.dir=$warehouse"
  --conf "spark.hadoop.javax.jdo.option.ConnectionURL=jdbc:derby:;databaseName=$warehouse/metastore_db;create=true"
  --conf "spark.driver.extraJavaOptions=-Dderby.system.home=$warehouse"
  --conf spark.sql.sources.partitionOverwriteMode=dynamic
  --conf spark.sql.session.timeZone=UTC
  --conf spark.sql.ansi.enabled=false
  --conf spark.ui.enabled=false
  --conf "spark.driver.maxResultSize=${SPARK_DRIVER_MAX_RESULT_SIZE:-0}"
  --conf "spark.connect.grpc.binding.address=$host"
  --conf "spark.connect.grpc.binding.port=$connect_port"
)

case $kind in
  connect)
    exec "$spark_home/bin/spark-submit" --class org.apache.spark.sql.connect.service.SparkConnectServer \
      --name "Spark Connect server" "${confs[@]}" spark-internal
    ;;
  thrift)
    # HiveServer2 reads its port and bind host from these variables.
    export HIVE_SERVER2_THRIFT_PORT=${SPARK_THRIFT_PORT:-10000}
    export HIVE_SERVER2_THRIFT_BIND_HOST=$host
    exec "$spark_home/bin/spark-submit" --class org.apache.spark.sql.hive.thriftserver.HiveThriftServer2 \
      --name "Thrift JDBC/ODBC server" "${confs[@]}" \
      --conf spark.plugins=org.apache.spark.sql.connect.SparkConnectPlugin spark-internal
    ;;
  *)
    echo "usage: scripts/spark_server.sh thrift|connect" >&2
    exit 2
    ;;
esac
