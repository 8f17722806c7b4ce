// The structural check every Part 10 stream passes before DCMTK sees it (see include/cdicom.h, "Limits").
//
// DCMTK's parser recurses once per sequence level and trusts declared lengths; a file can therefore drive its stack
// (sequences nested 200,000 deep) or its allocations (a value length far past the end of the data). The prescan
// walks the same structure iteratively, with an explicit stack, and refuses the file — with a message naming the
// element — when:
//  - a defined length runs past its item, its sequence or the end of the data (a sequence or item cut short by the end
//    of the data is read to the end, as DCMTK reads it: no allocation depends on a container's length);
//  - an undefined length appears where PS3.5 §7.1 does not allow one (only SQ, UN and encapsulated Pixel Data);
//  - sequences nest deeper than the limit, or the file holds more elements than the limit;
//  - a deflated dataset inflates past the limit.
// Memory is bounded (a 64 KiB read buffer, the container stack ≤ depth limit) whatever the input.
#pragma once

#include "ByteSource.hpp"
#include "cdicom.h"

#include <cstddef>
#include <cstdint>
#include <string>

namespace hil {

struct ScanLimits {
    uint32_t maxDepth;
    uint64_t maxElements;
    uint64_t maxInflatedBytes;
};

/// Walks the whole stream (preamble, "DICM", meta header, dataset). On success returns true and sets
/// `transferSyntax` to the meta header's (may be empty). On failure fills `error` (HIL_DICOM_ELEMENT_LENGTH,
/// HIL_DICOM_LIMIT or HIL_DICOM_INVALID_FILE) and returns false.
bool prescan(ByteSource &source, const ScanLimits &limits, std::string &transferSyntax, hil_dicom_error *error);

}  // namespace hil
