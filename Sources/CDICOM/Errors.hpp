// Filling the caller's hil_dicom_error (include/cdicom.h), for every file of CDICOM.
#pragma once

#include "cdicom.h"

#include <cstdio>
#include <string>

namespace hil {

/// Sets `error` (when given) to `code` and `message` (cut to the message buffer).
inline void setError(hil_dicom_error *error, int code, const std::string &message) {
    if (!error) return;
    error->code = code;
    std::snprintf(error->message, sizeof error->message, "%s", message.c_str());
}

/// Sets `error` (when given) to HIL_DICOM_OK with an empty message.
inline void clearError(hil_dicom_error *error) {
    if (!error) return;
    error->code = HIL_DICOM_OK;
    error->message[0] = 0;
}

}  // namespace hil
