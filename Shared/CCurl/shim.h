#ifndef FLEET_CCURL_SHIM_H
#define FLEET_CCURL_SHIM_H
// libcurl's setopt/getinfo entry points are C variadics, which Swift cannot call. These typed
// wrappers are the only way CurlHTTP reaches them; each passes exactly the type libcurl expects
// for the option kinds it is used with (long, curl_off_t, pointer, callback).
#include <curl/curl.h>
#include <sys/prctl.h>

typedef size_t (*fleet_curl_data_callback)(char *buffer, size_t size, size_t count, void *userdata);
typedef int (*fleet_curl_xferinfo_callback)(void *userdata, curl_off_t dltotal, curl_off_t dlnow,
                                            curl_off_t ultotal, curl_off_t ulnow);

static inline CURLcode fleet_curl_easy_setopt_long(CURL *handle, CURLoption option, long value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode fleet_curl_easy_setopt_off_t(CURL *handle, CURLoption option, curl_off_t value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode fleet_curl_easy_setopt_pointer(CURL *handle, CURLoption option, void *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode fleet_curl_easy_setopt_string(CURL *handle, CURLoption option, const char *value) {
    return curl_easy_setopt(handle, option, value);
}

static inline CURLcode fleet_curl_easy_setopt_data_callback(CURL *handle, CURLoption option,
                                                             fleet_curl_data_callback callback) {
    return curl_easy_setopt(handle, option, callback);
}

static inline CURLcode fleet_curl_easy_setopt_xferinfo_callback(CURL *handle, fleet_curl_xferinfo_callback callback) {
    return curl_easy_setopt(handle, CURLOPT_XFERINFOFUNCTION, callback);
}

static inline CURLcode fleet_curl_easy_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLcode fleet_curl_easy_getinfo_off_t(CURL *handle, CURLINFO info, curl_off_t *value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLcode fleet_curl_easy_getinfo_pointer(CURL *handle, CURLINFO info, void **value) {
    return curl_easy_getinfo(handle, info, value);
}

static inline CURLMcode fleet_curl_multi_setopt_long(CURLM *handle, CURLMoption option, long value) {
    return curl_multi_setopt(handle, option, value);
}

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

// Names the calling thread (Linux keeps 15 bytes). prctl is variadic too, and Foundation's
// `Thread.name` setter can miss a thread that has not been registered yet.
static inline void fleet_set_current_thread_name(const char *name) {
    prctl(PR_SET_NAME, name, 0, 0, 0);
}

#endif
