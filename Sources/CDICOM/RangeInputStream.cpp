// See RangeInputStream.hpp.
#include "RangeInputStream.hpp"
#include "ByteSource.hpp"

#include <dcmtk/dcmdata/dcerror.h>

#include <fcntl.h>
#include <unistd.h>

namespace hil {

RangeProducer::RangeProducer(const std::string &path, offile_off_t start, offile_off_t end)
    : fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)), at_(start), end_(end), status_(EC_Normal) {
    if (fd_ < 0) status_ = EC_InvalidStream;
}

RangeProducer::~RangeProducer() {
    if (fd_ >= 0) ::close(fd_);
}

offile_off_t RangeProducer::read(void *buf, offile_off_t buflen) {
    if (!status_.good() || at_ >= end_ || buflen <= 0) return 0;
    offile_off_t want = buflen < end_ - at_ ? buflen : end_ - at_;
    bool failed = false;
    offile_off_t got = (offile_off_t)preadFully(fd_, buf, (size_t)want, (uint64_t)at_, failed);
    if (failed) status_ = EC_InvalidStream;
    at_ += got;
    return got;
}

offile_off_t RangeProducer::skip(offile_off_t skiplen) {
    if (skiplen <= 0) return 0;
    offile_off_t n = skiplen < end_ - at_ ? skiplen : end_ - at_;
    if (n < 0) n = 0;
    at_ += n;
    return n;
}

// > DcmProducer::putback: "resets the stream to the position by the given number of bytes" — DCMTK only puts back
// bytes it read since its last mark().
void RangeProducer::putback(offile_off_t num) { at_ -= num; }

// The base class keeps the pointer and does not use it during construction (dcistrma.h, DcmInputStream(DcmProducer*)).
RangeInputStream::RangeInputStream(const std::string &path, offile_off_t start, offile_off_t end)
    : DcmInputStream(&producer_), producer_(path, start, end), path_(path), start_(start), end_(end) {}

DcmInputStreamFactory *RangeInputStream::newFactory() const {
    if (currentProducer() != &producer_) return nullptr;
    return new RangeInputStreamFactory(path_, start_ + tell(), end_);
}

}  // namespace hil
