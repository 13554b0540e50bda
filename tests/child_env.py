"""The environment of a process a test starts, and the JVM options of the suite.

A child gets the suite's environment without the variables by which a pyspark
process marks itself as a Spark Connect client or points at a running JVM,
and without ``LAKEGATE_*`` settings (a test gives the ones it means); the
suite's JVM options stay, whatever else a caller drops.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

#: Options of every JVM the tests start (Spark sessions, Connect servers, a cluster's
#: daemons): the client compiler only, and the serial collector. Such JVMs live for
#: seconds to minutes on small data, and the server compiler and the parallel
#: collector's threads cost them more CPU than they give back (measured: a local
#: session and a small Delta workload took 63 s of CPU with the JVM's defaults and
#: 41 s with these, in the same wall time), on a machine the suite keeps busy.
TEST_JVM_OPTIONS = "-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"
#: Spark's launcher adds the first to every driver it starts, the second to a master's and a worker's.
JVM_OPTION_VARIABLES = ("SPARK_SUBMIT_OPTS", "SPARK_DAEMON_JAVA_OPTS")
#: Variables by which a pyspark process marks itself as a Connect client or points at a running JVM.
SPARK_PROCESS_STATE = (
    "SPARK_REMOTE", "SPARK_LOCAL_REMOTE", "SPARK_CONNECT_MODE_ENABLED", "SPARK_CONNECT_AUTHENTICATE_TOKEN",
    "SPARK_API_MODE", "PYSPARK_GATEWAY_PORT", "PYSPARK_GATEWAY_SECRET", "SPARK_LOCAL_CONNECT_REUSE",
)


def use_test_jvm_options() -> None:
    """Give this process's JVMs, and its children's, :data:`TEST_JVM_OPTIONS`; options set outside win."""
    for name in JVM_OPTION_VARIABLES:
        os.environ.setdefault(name, TEST_JVM_OPTIONS)


def child_env(*, home: Path | None = None, pythonpath: Iterable[Path] = (),
              drop_prefixes: tuple[str, ...] = ()) -> dict[str, str]:
    """The environment for a child process.

    Args:
        home: Its ``LAKEGATE_HOME``, if given.
        pythonpath: Its ``PYTHONPATH``, if given.
        drop_prefixes: Further variables to leave out, by prefix (``AWS_``, ``SPARK_``).
    """
    env = {k: v for k, v in os.environ.items()
           if k not in SPARK_PROCESS_STATE and not k.startswith(("LAKEGATE_", *drop_prefixes))}
    env.update({name: os.environ[name] for name in JVM_OPTION_VARIABLES if name in os.environ})
    paths = [str(p) for p in pythonpath]
    if paths:
        env["PYTHONPATH"] = os.pathsep.join(paths)
    if home is not None:
        env["LAKEGATE_HOME"] = str(home)
    return env
