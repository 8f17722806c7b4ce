// A DCMTK input stream over bytes [start, end) of a file, whose factory lets DCMTK leave large values in the file
// and read them on first access (DcmFileFormat::read's maxReadLength). DCMTK's own DcmInputFileStream reads to the end
// of the file; this one stops at `end`, so a Part 10 file can be one range of a larger file.
#pragma once

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmdata/dcistrma.h>

#include <string>

namespace hil {

/// Reads with pread from its own descriptor (closed in the destructor).
class RangeProducer : public DcmProducer {
public:
    RangeProducer(const std::string &path, offile_off_t start, offile_off_t end);
    ~RangeProducer() override;
    OFBool good() const override { return status_.good(); }
    OFCondition status() const override { return status_; }
    OFBool eos() override { return at_ >= end_; }
    offile_off_t avail() override { return at_ < end_ ? end_ - at_ : 0; }
    offile_off_t read(void *buf, offile_off_t buflen) override;
    offile_off_t skip(offile_off_t skiplen) override;
    void putback(offile_off_t num) override;

private:
    RangeProducer(const RangeProducer &) = delete;
    RangeProducer &operator=(const RangeProducer &) = delete;
    int fd_;
    offile_off_t at_, end_;
    OFCondition status_;
};

class RangeInputStream : public DcmInputStream {
public:
    RangeInputStream(const std::string &path, offile_off_t start, offile_off_t end);
    /// A factory that reopens the range at the current position; NULL once a decompression filter is installed
    /// (positions then count inflated bytes, which the file cannot seek to), so DCMTK loads such values at once.
    DcmInputStreamFactory *newFactory() const override;

private:
    RangeProducer producer_;
    std::string path_;
    offile_off_t start_, end_;
};

class RangeInputStreamFactory : public DcmInputStreamFactory {
public:
    RangeInputStreamFactory(const std::string &path, offile_off_t start, offile_off_t end)
        : path_(path), start_(start), end_(end) {}
    DcmInputStream *create() const override { return new RangeInputStream(path_, start_, end_); }
    DcmInputStreamFactory *clone() const override { return new RangeInputStreamFactory(path_, start_, end_); }
    DcmInputStreamFactoryType ident() const override { return DFT_DcmInputFileStreamFactory; }

private:
    std::string path_;
    offile_off_t start_, end_;
};

}  // namespace hil
