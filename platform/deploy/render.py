"""Print the template for the demo domains: ``python -m deploy.render``."""

from __future__ import annotations

import sys

from deploy.cloudformation import render_template, template_yaml


def main() -> None:
    from demo.definitions import demo_domains

    sys.stdout.write(template_yaml(render_template(demo_domains())))


if __name__ == "__main__":
    main()
