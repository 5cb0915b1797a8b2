import os

# Never reach real AWS from tests: fake credentials and a fixed region.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_SESSION_TOKEN", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "eu-west-2")
os.environ.setdefault("POWERTOOLS_METRICS_NAMESPACE", "CSMS")

from hypothesis import settings as _hypothesis_settings

# CI: the same examples every run, so a red build is reproducible.
_hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    _hypothesis_settings.load_profile("ci")

# One botocore data loader for the whole test run. pynamodb opens one botocore session per table model
# (10 tables) and every runtime a test builds binds them again, so each moto-backed platform parsed
# botocore's service and endpoint JSON files about 10 times: 12-15 s of a loaded 2-core machine's time
# per integration test, most of `make test`. The loader only caches those read-only files, so sharing it
# changes nothing a test observes (each session still has its own credentials, clients and moto hooks).
import botocore.loaders as _botocore_loaders
import botocore.session as _botocore_session

_shared_loader = _botocore_loaders.create_loader()
_session_init = _botocore_session.Session.__init__


def _session_with_shared_loader(self, *args, **kwargs):
    _session_init(self, *args, **kwargs)
    self.register_component("data_loader", _shared_loader)


_botocore_session.Session.__init__ = _session_with_shared_loader
