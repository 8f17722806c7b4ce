#ifndef HIL_CZLIB_SHIM_H
#define HIL_CZLIB_SHIM_H
#include <zlib.h>

/* deflateInit2 is a macro (it passes ZLIB_VERSION and sizeof(z_stream)): Swift cannot import it. */
static inline int hil_deflate_init_gzip(z_streamp stream, int level) {
    /* windowBits 15 + 16: a gzip header and trailer instead of a zlib wrapper. */
    return deflateInit2(stream, level, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
}

static inline int hil_inflate_init_gzip(z_streamp stream) {
    return inflateInit2(stream, 15 + 16);
}
#endif
