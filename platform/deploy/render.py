"""Print the template for the demo domains: ``python -m deploy.render``."""

from __future__ import annotations

import sys

from deploy.cloudformation import render_template, template_yaml


def main() -> None:
    from lake.demo import DEMO_CONTRACTS

    domains = sorted({d["dataset"].split(".")[0] for d in DEMO_CONTRACTS})
    sys.stdout.write(template_yaml(render_template(domains)))


if __name__ == "__main__":
    main()
