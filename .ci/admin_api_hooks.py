"""schemathesis hooks for .ci/check-admin-api.

POST /v1/archive/export writes a file at the absolute path it is given: generated paths are moved
into the run's own directory (keeping a sanitised form of the name), so that the daemon under test
writes nowhere else. Relative and non-string paths are sent unchanged (the daemon refuses them).
"""
import os
import re

import schemathesis

EXPORTS = os.environ["PARLEY_ADMIN_EXPORTS"]


@schemathesis.hook
def before_call(context, case, kwargs):
    if case.operation.path != "/v1/archive/export" or not isinstance(case.body, dict):
        return
    path = case.body.get("path")
    if isinstance(path, str) and path.startswith("/"):
        name = re.sub(r"[^A-Za-z0-9._-]", "_", path)[-100:]
        case.body = {**case.body, "path": os.path.join(EXPORTS, name)}
