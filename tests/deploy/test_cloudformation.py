"""The CloudFormation template: passes cfn-lint, deploys to moto's
CloudFormation, and the deployed bucket, keys and roles hold the rules."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest

from deploy.cloudformation import SubscriberRole, render_template, template_yaml
from lake.errors import InvalidInput

ROOT = Path(__file__).resolve().parents[2]
SUBSCRIBERS = [
    SubscriberRole("bi", "redshift", (("ads", "conversions", 1), ("playback", "events", 2))),
    SubscriberRole("ml", "sagemaker", ()),
]


def _lint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(Path(sys.executable).parent / "cfn-lint"), str(path)], capture_output=True, text=True)


def test_rendered_template_passes_cfn_lint(tmp_path: Path) -> None:
    path = tmp_path / "lakegate.yaml"
    path.write_text(template_yaml(render_template(["ads", "playback"], SUBSCRIBERS)))
    result = _lint(path)
    assert result.returncode == 0, result.stdout + result.stderr


def test_checked_in_template_is_current_and_lints() -> None:
    """platform/deploy/lakegate.yaml is the template for the demo domains."""
    from demo.definitions import demo_domains

    domains = demo_domains()
    checked_in = ROOT / "platform" / "deploy" / "lakegate.yaml"
    assert checked_in.read_text() == template_yaml(render_template(domains)), (
        "regenerate with: python -m deploy.render > platform/deploy/lakegate.yaml")
    result = _lint(checked_in)
    assert result.returncode == 0, result.stdout + result.stderr


def test_lint_catches_a_broken_template(tmp_path: Path) -> None:
    broken = render_template(["ads"])
    broken["Resources"]["LakeBucket"]["Properties"]["BucketEncryption"] = "yes"
    path = tmp_path / "broken.yaml"
    path.write_text(template_yaml(broken))
    assert _lint(path).returncode != 0


def test_role_policy_is_exactly_the_grants() -> None:
    t = render_template(["ads", "playback", "subs"], SUBSCRIBERS)
    statements = t["Resources"]["SubscriberRoleBi"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    by_sid = {s["Sid"]: s for s in statements}
    assert [r["Fn::Sub"] for r in by_sid["ReadGrantedTables"]["Resource"]] == [
        "${LakeBucket.Arn}/lake/ads/conversions/v1/*", "${LakeBucket.Arn}/lake/playback/events/v2/*"]
    assert by_sid["DecryptGrantedDomains"]["Resource"] == [
        {"Fn::GetAtt": ["DomainKeyAds", "Arn"]}, {"Fn::GetAtt": ["DomainKeyPlayback", "Arn"]}]
    assert "Policies" not in t["Resources"]["SubscriberRoleMl"]["Properties"]  # nothing granted, nothing allowed
    with pytest.raises(InvalidInput, match="unknown domain"):
        render_template(["ads"], SUBSCRIBERS)


@pytest.mark.s3
def test_template_deploys_to_moto_cloudformation(moto_server: str) -> None:
    kw: dict[str, Any] = {"endpoint_url": moto_server, "region_name": "us-east-1"}
    cfn = boto3.client("cloudformation", **kw)
    bucket = f"lake-{uuid.uuid4().hex[:12]}"
    stack = f"lakegate-{uuid.uuid4().hex[:8]}"
    body = template_yaml(render_template(["ads", "playback"], SUBSCRIBERS))
    cfn.create_stack(StackName=stack, TemplateBody=body, Parameters=[
        {"ParameterKey": "LakeBucketName", "ParameterValue": bucket},
        {"ParameterKey": "VendingPrincipalArn", "ParameterValue": "arn:aws:iam::123456789012:role/lakegate"},
    ], Capabilities=["CAPABILITY_NAMED_IAM"])
    desc = cfn.describe_stacks(StackName=stack)["Stacks"][0]
    assert desc["StackStatus"] == "CREATE_COMPLETE", desc.get("StackStatusReason")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in desc["Outputs"]}

    s3 = boto3.client("s3", **kw)
    enc = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert enc["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert enc["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"] == outputs["LakeKeyArn"]
    # moto's CloudFormation does not create AWS::S3::BucketPolicy (nor the public
    # access block), so apply the template's own policy document and block as
    # written, then Lakegate's own bucket check must accept the result.
    props = json.loads(json.dumps(render_template(["ads"])["Resources"]["LakeBucketPolicy"]["Properties"]))
    doc = json.dumps(props["PolicyDocument"]).replace('{"Fn::GetAtt": ["LakeBucket", "Arn"]}', f'"arn:aws:s3:::{bucket}"')
    doc = doc.replace('{"Fn::Sub": "${LakeBucket.Arn}/*"}', f'"arn:aws:s3:::{bucket}/*"')
    assert "Fn::" not in doc
    s3.put_bucket_policy(Bucket=bucket, Policy=doc)
    block = render_template(["ads"])["Resources"]["LakeBucket"]["Properties"]["PublicAccessBlockConfiguration"]
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=block)
    from lake.s3 import S3Store

    S3Store(bucket, "lake", endpoint_url=moto_server).check()

    kms = boto3.client("kms", **kw)
    aliases = {a["AliasName"]: a.get("TargetKeyId") for a in kms.list_aliases()["Aliases"]}
    for domain in ("ads", "playback"):
        key_arn = outputs[f"DomainKey{domain.capitalize()}Arn"]
        assert aliases[f"alias/lakegate/{domain}"] == key_arn.split("/")[-1]

    iam = boto3.client("iam", **kw)
    role = iam.get_role(RoleName="lakegate-redshift-bi")["Role"]
    assert role["Arn"] == outputs["SubscriberRoleBiArn"]
    doc = iam.get_role_policy(RoleName="lakegate-redshift-bi", PolicyName="lakegate-grants")["PolicyDocument"]
    if isinstance(doc, str):  # moto returns CloudFormation inline policies as a Python repr
        doc = ast.literal_eval(doc)
    reads = next(s for s in doc["Statement"] if s["Sid"] == "ReadGrantedTables")["Resource"]
    assert reads == [f"arn:aws:s3:::{bucket}/lake/ads/conversions/v1/*", f"arn:aws:s3:::{bucket}/lake/playback/events/v2/*"]
    cfn.delete_stack(StackName=stack)


def test_cluster_spark_conf_carries_credentials_and_kms() -> None:
    from deploy.spark_conf import S3Credentials, cluster_spark_conf

    creds = S3Credentials("ASIAEXAMPLE", "secret-value", "token-value")
    conf = cluster_spark_conf(creds, endpoint_url="http://127.0.0.1:5000", kms_key_id="key-1", fetch_packages=False)
    assert conf["spark.hadoop.fs.s3a.session.token"] == "token-value"
    assert conf["spark.hadoop.fs.s3a.encryption.key"] == "key-1"
    assert conf["spark.hadoop.fs.s3a.connection.ssl.enabled"] == "false"
    assert "spark.jars.packages" not in conf
    assert "secret-value" not in repr(creds)
    assert "delta-spark" in cluster_spark_conf()["spark.jars.packages"]
