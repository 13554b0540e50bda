"""Spark settings for a cluster (EMR or any Spark 4) reading the lake natively.

On a cluster the delta-spark jars are available (EMR ships them; elsewhere
``spark.jars.packages`` fetches them from Maven), so tables are read with
``format("delta")``. The coordinates are the ones ``jvm/pom.xml`` locks for
Lakegate's own engine (``tests/deploy`` checks they agree).
"""

from __future__ import annotations

from dataclasses import dataclass

DELTA_PACKAGE = "io.delta:delta-spark_4.2_2.13:4.4.0"
HADOOP_AWS_PACKAGE = "org.apache.hadoop:hadoop-aws:3.5.0"


@dataclass(frozen=True)
class S3Credentials:
    """Short-lived credentials (from STS) for the S3A connector."""

    access_key_id: str
    secret_access_key: str
    session_token: str

    def __repr__(self) -> str:  # never print secrets
        return f"S3Credentials(access_key_id={self.access_key_id[:4]}…)"


def cluster_spark_conf(
    credentials: S3Credentials | None = None,
    *,
    region: str = "us-east-1",
    endpoint_url: str | None = None,
    kms_key_id: str | None = None,
    fetch_packages: bool = True,
) -> dict[str, str]:
    """Spark configuration for reading (and, with a key, writing) the lake.

    Args:
        credentials: Vended session credentials; without them the cluster's own
            instance profile is used.
        region: AWS region of the bucket.
        endpoint_url: A non-AWS S3 endpoint.
        kms_key_id: The domain key for SSE-KMS on writes.
        fetch_packages: Add ``spark.jars.packages`` (off on EMR, which ships the jars).

    Returns:
        ``spark.*`` settings for ``SparkSession.builder.config`` or ``spark-submit --conf``.
    """
    conf = {
        "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
        "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
        "spark.hadoop.fs.s3a.endpoint.region": region,
        "spark.hadoop.fs.s3a.connection.ssl.enabled": "true",
        "spark.sql.session.timeZone": "UTC",
    }
    if fetch_packages:
        conf["spark.jars.packages"] = f"{DELTA_PACKAGE},{HADOOP_AWS_PACKAGE}"
    if credentials is not None:
        conf.update({
            "spark.hadoop.fs.s3a.aws.credentials.provider":
                "org.apache.hadoop.fs.s3a.TemporaryAWSCredentialsProvider",
            "spark.hadoop.fs.s3a.access.key": credentials.access_key_id,
            "spark.hadoop.fs.s3a.secret.key": credentials.secret_access_key,
            "spark.hadoop.fs.s3a.session.token": credentials.session_token,
        })
    if endpoint_url:
        conf["spark.hadoop.fs.s3a.endpoint"] = endpoint_url
        conf["spark.hadoop.fs.s3a.path.style.access"] = "true"
        if endpoint_url.startswith("http://"):
            conf["spark.hadoop.fs.s3a.connection.ssl.enabled"] = "false"
    if kms_key_id:
        conf["spark.hadoop.fs.s3a.encryption.algorithm"] = "SSE-KMS"
        conf["spark.hadoop.fs.s3a.encryption.key"] = kms_key_id
    return conf
