"""Deploys a CloudFormation template into the local AWS emulator the way `sam deploy`
deploys into AWS, and reports the stack as deployed.

The template is one the SAM transform was already applied to (scripts/transform-template);
the emulator's CloudFormation has no transforms. `deploy` packages it as `sam deploy`
does: each function's code is uploaded to an artifacts bucket of the region (a
placeholder: the tests run the functions' binaries themselves, with the
configuration read back from the deployed function) and the function's Code points
there; the template goes to the same bucket and the stack is created from its URL
(CloudFormation accepts at most 51,200 bytes inline); an existing stack is updated.

Every command prints one JSON document on stdout:

    {"StackName", "StackId", "Region", "StackStatus", "StackStatusReason",
     "Failures": [{"LogicalResourceId", "ResourceType", "ResourceStatus", "ResourceStatusReason"}],
     "Parameters": {key: value}, "Outputs": {key: value},
     "Resources": [{"LogicalResourceId", "ResourceType", "PhysicalResourceId"}],
     "Functions": {logical id: GetFunctionConfiguration's answer},
     "CodeUri": {logical id: the function's CodeUri in the source template}}

(the CodeUri from each function's Metadata, where scripts/transform-template keeps it)

`deploy`, `delete` and `describe` wait (at most SETTLE_SECONDS) while the stack is
*_IN_PROGRESS: a stack with a custom resource stays so until its function answers
(the test kit answers meanwhile); `describe --now` reports the stack as it is.

or, when CloudFormation refuses the request, {"Error": {"Code", "Message"}} with exit
status 3. Exit status 2 is a usage error.

Usage:
    cm_stack.py --endpoint URL --region REGION deploy STACK TEMPLATE.json [KEY=VALUE ...]
    cm_stack.py --endpoint URL --region REGION describe STACK [--now]
    cm_stack.py --endpoint URL --region REGION delete STACK
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
import zipfile
from typing import Any

import boto3
import botocore.config
import botocore.exceptions

# How long a stack may stay *_IN_PROGRESS: the emulator's CloudFormation makes
# resources within the call, but a stack with a custom resource waits for its answer.
SETTLE_SECONDS = 90


class Deployer:
    def __init__(self, endpoint: str, region: str):
        config = botocore.config.Config(retries={"total_max_attempts": 1})

        def client(service: str) -> Any:
            return boto3.client(service, endpoint_url=endpoint, region_name=region,
                                aws_access_key_id="test", aws_secret_access_key="test", config=config)

        self.region = region
        self.cloudformation = client("cloudformation")
        self.s3 = client("s3")
        self.lambda_ = client("lambda")

    # -- packaging -------------------------------------------------------------------

    def bucket(self) -> str:
        """The region's artifacts bucket (made if missing), as `sam deploy` keeps one."""
        name = f"cm-artifacts-{self.region}"
        try:
            self.s3.head_bucket(Bucket=name)
        except botocore.exceptions.ClientError:
            location = {} if self.region == "us-east-1" else {
                "CreateBucketConfiguration": {"LocationConstraint": self.region}}
            self.s3.create_bucket(Bucket=name, **location)
        return name

    def package(self, template: dict[str, Any], stack: str) -> str:
        """Uploads each function's code and the template; returns the template's URL."""
        bucket = self.bucket()
        placeholder = io.BytesIO()
        with zipfile.ZipFile(placeholder, "w") as archive:
            archive.writestr("bootstrap", "#!/bin/sh\n# placeholder: the tests run the function binaries\n")
        for logical_id, resource in template.get("Resources", {}).items():
            if resource.get("Type") != "AWS::Lambda::Function":
                continue
            key = f"{stack}/{logical_id}.zip"
            self.s3.put_object(Bucket=bucket, Key=key, Body=placeholder.getvalue())
            resource.setdefault("Properties", {})["Code"] = {"S3Bucket": bucket, "S3Key": key}
        key = f"{stack}/template.json"
        self.s3.put_object(Bucket=bucket, Key=key, Body=json.dumps(template).encode())
        return f"https://s3.{self.region}.amazonaws.com/{bucket}/{key}"

    # -- the stack ---------------------------------------------------------------------

    def exists(self, stack: str) -> bool:
        try:
            stacks = self.cloudformation.describe_stacks(StackName=stack)["Stacks"]
        except botocore.exceptions.ClientError:
            return False
        return any(s["StackStatus"] != "DELETE_COMPLETE" for s in stacks)

    def deploy(self, stack: str, template: dict[str, Any], parameters: dict[str, str]) -> dict[str, Any]:
        url = self.package(template, stack)
        given = [{"ParameterKey": k, "ParameterValue": v} for k, v in parameters.items()]
        call = self.cloudformation.update_stack if self.exists(stack) else self.cloudformation.create_stack
        call(StackName=stack, TemplateURL=url, Parameters=given,
             Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM"])
        return self.describe(stack)

    def delete(self, stack: str) -> dict[str, Any]:
        stack_id = self.cloudformation.describe_stacks(StackName=stack)["Stacks"][0]["StackId"]
        self.cloudformation.delete_stack(StackName=stack_id)
        return self.describe(stack_id)

    def settled(self, stack: str, wait: bool = True) -> dict[str, Any]:
        deadline = time.monotonic() + (SETTLE_SECONDS if wait else 0)
        while True:
            described = self.cloudformation.describe_stacks(StackName=stack)["Stacks"][0]
            if not described["StackStatus"].endswith("_IN_PROGRESS") or time.monotonic() > deadline:
                return described
            time.sleep(0.2)

    def describe(self, stack: str, wait: bool = True) -> dict[str, Any]:
        described = self.settled(stack, wait)
        name, status = described["StackName"], described["StackStatus"]
        events = self.cloudformation.describe_stack_events(StackName=described["StackId"])["StackEvents"]
        failures = [
            {k: e.get(k, "") for k in ("LogicalResourceId", "ResourceType", "ResourceStatus",
                                        "ResourceStatusReason")}
            for e in events if e.get("ResourceStatus", "").endswith("_FAILED")
        ]
        report = {
            "StackName": name,
            "StackId": described["StackId"],
            "Region": self.region,
            "StackStatus": status,
            "StackStatusReason": described.get("StackStatusReason", ""),
            "Failures": failures,
            "Parameters": {p["ParameterKey"]: p.get("ParameterValue", "") for p in described.get("Parameters") or []},
            "Outputs": {o["OutputKey"]: o.get("OutputValue", "") for o in described.get("Outputs") or []},
            "Resources": [],
            "Functions": {},
            "CodeUri": {},
        }
        if status == "DELETE_COMPLETE":
            return report
        body = self.cloudformation.get_template(StackName=described["StackId"])["TemplateBody"]
        template = json.loads(body) if isinstance(body, str) else body
        for logical_id, resource in template.get("Resources", {}).items():
            code = (resource.get("Metadata") or {}).get("CodeUri")
            if resource.get("Type") == "AWS::Lambda::Function" and isinstance(code, str):
                report["CodeUri"][logical_id] = code
        resources = self.cloudformation.describe_stack_resources(StackName=described["StackId"])
        for resource in resources["StackResources"]:
            entry = {k: resource.get(k, "") for k in ("LogicalResourceId", "ResourceType", "PhysicalResourceId")}
            report["Resources"].append(entry)
            if entry["ResourceType"] == "AWS::Lambda::Function" and entry["PhysicalResourceId"]:
                config = self.lambda_.get_function_configuration(FunctionName=entry["PhysicalResourceId"])
                config.pop("ResponseMetadata", None)
                report["Functions"][entry["LogicalResourceId"]] = config
        return report


def parse_parameters(items: list[str]) -> dict[str, str]:
    parameters = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"a parameter is KEY=VALUE, not {item!r}")
        parameters[key] = value
    return parameters


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--region", required=True)
    commands = parser.add_subparsers(dest="command", required=True)
    deploy = commands.add_parser("deploy")
    deploy.add_argument("stack")
    deploy.add_argument("template")
    deploy.add_argument("parameters", nargs="*", metavar="KEY=VALUE")
    describe = commands.add_parser("describe")
    describe.add_argument("stack")
    describe.add_argument("--now", action="store_true", help="do not wait for the stack to settle")
    commands.add_parser("delete").add_argument("stack")
    args = parser.parse_args(argv)

    deployer = Deployer(args.endpoint, args.region)
    try:
        if args.command == "deploy":
            with open(args.template, encoding="utf-8") as f:
                template = json.load(f)
            report = deployer.deploy(args.stack, template, parse_parameters(args.parameters))
        elif args.command == "describe":
            report = deployer.describe(args.stack, wait=not args.now)
        else:
            report = deployer.delete(args.stack)
    except ValueError as err:
        print(err, file=sys.stderr)
        return 2
    except botocore.exceptions.ClientError as err:
        error = err.response.get("Error", {})
        json.dump({"Error": {"Code": error.get("Code", ""), "Message": error.get("Message", str(err))}},
                  sys.stdout, default=str)
        return 3
    json.dump(report, sys.stdout, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
