"""Infrastructure as code for AWS: the lake bucket, the domain keys and the
subscriber roles as a CloudFormation template, and Spark/EMR settings."""

from deploy.cloudformation import SubscriberRole, render_template, template_yaml

__all__ = ["SubscriberRole", "render_template", "template_yaml"]
