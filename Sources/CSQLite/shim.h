#ifndef HIL_CSQLITE_SHIM_H
#define HIL_CSQLITE_SHIM_H
#include <sqlite3.h>
#endif
