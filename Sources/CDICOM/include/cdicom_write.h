#ifndef HIL_CDICOM_WRITE_H
#define HIL_CDICOM_WRITE_H
/*
 * CDICOM, writing side: the DCMTK data dictionary by keyword and by tag, and a Part 10 writer that builds a dataset
 * from attribute values and native or encapsulated pixel data and writes it to memory (DICOMweb GetDICOMInstance).
 *
 * Ownership: a hil_dicom_writer owns everything put into it (values are copied); hil_dicom_writer_finish returns a
 * buffer the caller owns and frees with hil_dicom_free. Keywords returned by hil_dicom_dictionary_tag are copied
 * into the caller's buffer. Errors come back as a code + message in the caller's hil_dicom_error (cdicom.h codes).
 * A writer is not thread-safe; distinct writers may be used on distinct threads.
 */
#include <stddef.h>
#include <stdint.h>
#include "cdicom.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The tag and VR of a dictionary keyword ("PatientName" → 0010,0010 "PN"). The VR is the dictionary's, made valid
 * for writing (ambiguous "US or SS" → "US", "OB or OW" → "OW"). Returns 0, or -1 when the dictionary has no such
 * keyword (vr is then left untouched). */
int hil_dicom_dictionary_keyword(const char *keyword, uint16_t *group, uint16_t *element, char vr[3]);

/* The keyword and VR of a tag; the keyword is copied into `keyword` (NUL-terminated, cut to `capacity`), "" when the
 * dictionary has none. Returns 0, or -1 when the tag is unknown (keyword "" and vr "UN"). */
int hil_dicom_dictionary_tag(uint16_t group, uint16_t element, char *keyword, size_t capacity, char vr[3]);

typedef struct hil_dicom_writer hil_dicom_writer;

hil_dicom_writer *hil_dicom_writer_new(void);
void hil_dicom_writer_free(hil_dicom_writer *writer);

/* Puts a text value (backslash-separated values) for string VRs and for numeric VRs given as decimal text
 * (US SS UL SL FL FD SV UV IS DS), or an AT value as "GGGGEEEE" pairs separated by backslashes, into the current
 * item (the dataset, or the innermost open sequence item). Returns 0, or -1 with `error`. */
int hil_dicom_writer_put_text(hil_dicom_writer *writer, uint16_t group, uint16_t element, const char *vr,
                              const char *text, size_t length, hil_dicom_error *error);
/* Puts a binary value (OB OW OF OD OL OV UN): `bytes` in little-endian order as DICOM stores them. */
int hil_dicom_writer_put_bytes(hil_dicom_writer *writer, uint16_t group, uint16_t element, const char *vr,
                               const uint8_t *bytes, size_t length, hil_dicom_error *error);
/* Opens a sequence in the current item; items are added with begin_item / end_item; end_sequence closes it. */
int hil_dicom_writer_begin_sequence(hil_dicom_writer *writer, uint16_t group, uint16_t element, hil_dicom_error *error);
int hil_dicom_writer_begin_item(hil_dicom_writer *writer, hil_dicom_error *error);
int hil_dicom_writer_end_item(hil_dicom_writer *writer, hil_dicom_error *error);
int hil_dicom_writer_end_sequence(hil_dicom_writer *writer, hil_dicom_error *error);

/* Native Pixel Data: every frame's samples concatenated, little endian; OW when bits_allocated > 8, else OB. */
int hil_dicom_writer_native_pixels(hil_dicom_writer *writer, const uint8_t *bytes, size_t length, int bits_allocated,
                                   hil_dicom_error *error);
/* Appends one frame of encapsulated Pixel Data (one fragment per frame, empty Basic Offset Table). */
int hil_dicom_writer_add_frame(hil_dicom_writer *writer, const uint8_t *bytes, size_t length, hil_dicom_error *error);

/* Writes preamble, File Meta Information (SOP class and instance from the dataset) and dataset in `transfer_syntax`
 * (a UID). Native syntaxes: 1.2.840.10008.1.2, .1.2.1, .1.2.2. Any other UID is written encapsulated: with the
 * encoding of explicit VR little endian and the given UID in (0002,0010) even where DCMTK does not know it
 * (HTJ2K .4.201-.4.203). On success returns 0 and a caller-owned buffer (free with hil_dicom_free). */
int hil_dicom_writer_finish(hil_dicom_writer *writer, const char *transfer_syntax, uint8_t **out, size_t *out_length,
                            hil_dicom_error *error);

#ifdef __cplusplus
}
#endif
#endif
