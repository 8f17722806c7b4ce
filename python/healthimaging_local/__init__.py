"""healthimaging-local from Python: start the emulator, get boto3 clients, drive its control plane.

    from healthimaging_local import HealthImagingLocal
    with HealthImagingLocal(fixtures=["fixtures/seed.json"]) as hil:
        hil.client().list_datastores()
"""

from ._control import Control, ControlPlaneError, FaultRules, Faults, Outcomes
from ._server import (DEFAULT_ACCOUNT, DEFAULT_REGION, HealthImagingLocal, HealthImagingLocalError, Namespace,
                      find_binary, make_client)

__all__ = [
    "Control", "ControlPlaneError", "DEFAULT_ACCOUNT", "DEFAULT_REGION", "FaultRules", "Faults", "HealthImagingLocal",
    "HealthImagingLocalError", "Namespace", "Outcomes", "find_binary", "make_client",
]
__version__ = "0.1.0"
