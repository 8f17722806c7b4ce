#ifndef HIL_CLIBEVENT_SHIM_H
#define HIL_CLIBEVENT_SHIM_H
// System headers first: <event2/event-config.h> defines _GNU_SOURCE, which would otherwise change
// the definition of fd_set seen by the Glibc module and break clean builds.
#include <sys/types.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <netdb.h>
#include <stdint.h>
// mallopt / malloc_trim, which the Glibc module does not export: the HTTP server returns the memory of large
// request bodies (HTTPServer.scheduleTrim).
#include <malloc.h>

#include <event2/event.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/listener.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>

// TAILQ_FIRST / TAILQ_NEXT are macros; Swift cannot call them.
static inline struct evkeyval *hil_evkeyvalq_first(struct evkeyvalq *q) { return q->tqh_first; }
static inline struct evkeyval *hil_evkeyval_next(struct evkeyval *kv) { return kv->next.tqe_next; }

#endif
