#ifndef FLEET_CCURL_H
#define FLEET_CCURL_H
// libcurl, loaded on first use.
//
// Linking libcurl would load it and its whole dependency tree (about thirty libraries: OpenSSL,
// GnuTLS, Kerberos, LDAP, SSH, ...) into every service at exec, about 6 MiB of resident memory
// before any request, also in services that never call a peer. CurlHTTP instead calls
// `fleet_curl_load()` when its driver starts, and reaches libcurl only through the functions
// below, which forward to the symbols that call resolved. The header is still libcurl's: types,
// constants and option names come from libcurl4-openssl-dev at build time, and the runtime image
// installs the matching libcurl4.
//
// libcurl's setopt/getinfo entry points are C variadics, which Swift cannot call; the typed
// wrappers pass exactly the type libcurl expects for the option kinds they are used with.
#include <curl/curl.h>
#include <stddef.h>

/// Loads libcurl (`libcurl.so.4`) and runs `curl_global_init`, once per process. NULL when
/// libcurl is usable, else why not (not installed, or older than 7.68 and missing a function).
/// Safe from any thread; later calls return the first call's result.
const char *fleet_curl_load(void);

/// Whether libcurl has been loaded into this process (tests prove a service without peer calls
/// never loads it).
int fleet_curl_is_loaded(void);

// Forwarders, valid only after `fleet_curl_load()` returned NULL.
CURL *fleet_curl_easy_init(void);
void fleet_curl_easy_cleanup(CURL *handle);
void fleet_curl_easy_reset(CURL *handle);
CURLcode fleet_curl_easy_pause(CURL *handle, int bitmask);
const char *fleet_curl_easy_strerror(CURLcode code);
CURLM *fleet_curl_multi_init(void);
CURLMcode fleet_curl_multi_cleanup(CURLM *multi);
CURLMcode fleet_curl_multi_add_handle(CURLM *multi, CURL *handle);
CURLMcode fleet_curl_multi_remove_handle(CURLM *multi, CURL *handle);
CURLMcode fleet_curl_multi_perform(CURLM *multi, int *running);
CURLMcode fleet_curl_multi_poll(CURLM *multi, struct curl_waitfd *extra, unsigned int count, int timeout_ms, int *ready);
CURLMcode fleet_curl_multi_wakeup(CURLM *multi);
CURLMsg *fleet_curl_multi_info_read(CURLM *multi, int *remaining);
struct curl_slist *fleet_curl_slist_append(struct curl_slist *list, const char *line);
void fleet_curl_slist_free_all(struct curl_slist *list);

typedef size_t (*fleet_curl_data_callback)(char *buffer, size_t size, size_t count, void *userdata);
typedef int (*fleet_curl_xferinfo_callback)(void *userdata, curl_off_t dltotal, curl_off_t dlnow,
                                            curl_off_t ultotal, curl_off_t ulnow);

CURLcode fleet_curl_easy_setopt_long(CURL *handle, CURLoption option, long value);
CURLcode fleet_curl_easy_setopt_off_t(CURL *handle, CURLoption option, curl_off_t value);
CURLcode fleet_curl_easy_setopt_pointer(CURL *handle, CURLoption option, void *value);
CURLcode fleet_curl_easy_setopt_string(CURL *handle, CURLoption option, const char *value);
CURLcode fleet_curl_easy_setopt_data_callback(CURL *handle, CURLoption option, fleet_curl_data_callback callback);
CURLcode fleet_curl_easy_setopt_xferinfo_callback(CURL *handle, fleet_curl_xferinfo_callback callback);
CURLcode fleet_curl_easy_getinfo_long(CURL *handle, CURLINFO info, long *value);
CURLcode fleet_curl_easy_getinfo_off_t(CURL *handle, CURLINFO info, curl_off_t *value);
CURLcode fleet_curl_easy_getinfo_pointer(CURL *handle, CURLINFO info, void **value);
CURLMcode fleet_curl_multi_setopt_long(CURLM *handle, CURLMoption option, long value);

// CURLMsg carries its result in a union; reading it here keeps the union out of Swift.
static inline CURLcode fleet_curl_msg_result(const CURLMsg *message) {
    return message->data.result;
}

// The write and read callbacks' sentinel values are macros Swift does not import.
static const size_t FLEET_CURL_WRITEFUNC_PAUSE = CURL_WRITEFUNC_PAUSE;
static const size_t FLEET_CURL_READFUNC_PAUSE = CURL_READFUNC_PAUSE;
static const size_t FLEET_CURL_READFUNC_ABORT = CURL_READFUNC_ABORT;
static const int FLEET_CURLPAUSE_CONT = CURLPAUSE_CONT;
static const long FLEET_CURLPIPE_MULTIPLEX = CURLPIPE_MULTIPLEX;

/// Names the calling thread (Linux keeps 15 bytes). prctl is variadic too, and Foundation's
/// `Thread.name` setter can miss a thread that has not been registered yet.
void fleet_set_current_thread_name(const char *name);

#endif
