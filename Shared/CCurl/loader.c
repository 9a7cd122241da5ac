// Loads libcurl with dlopen and forwards to it; see CCurl.h for why it is not linked.
#include "CCurl.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <sys/prctl.h>

// Every libcurl function CurlHTTP uses, with its type, once.
#define FLEET_CURL_FUNCTIONS(X)                                                                    \
    X(curl_global_init, CURLcode, (long))                                                          \
    X(curl_easy_init, CURL *, (void))                                                              \
    X(curl_easy_cleanup, void, (CURL *))                                                           \
    X(curl_easy_reset, void, (CURL *))                                                             \
    X(curl_easy_pause, CURLcode, (CURL *, int))                                                    \
    X(curl_easy_strerror, const char *, (CURLcode))                                                \
    X(curl_easy_setopt, CURLcode, (CURL *, CURLoption, ...))                                       \
    X(curl_easy_getinfo, CURLcode, (CURL *, CURLINFO, ...))                                        \
    X(curl_multi_init, CURLM *, (void))                                                            \
    X(curl_multi_cleanup, CURLMcode, (CURLM *))                                                    \
    X(curl_multi_add_handle, CURLMcode, (CURLM *, CURL *))                                         \
    X(curl_multi_remove_handle, CURLMcode, (CURLM *, CURL *))                                      \
    X(curl_multi_perform, CURLMcode, (CURLM *, int *))                                             \
    X(curl_multi_poll, CURLMcode, (CURLM *, struct curl_waitfd *, unsigned int, int, int *))       \
    X(curl_multi_wakeup, CURLMcode, (CURLM *))                                                     \
    X(curl_multi_info_read, CURLMsg *, (CURLM *, int *))                                           \
    X(curl_multi_setopt, CURLMcode, (CURLM *, CURLMoption, ...))                                   \
    X(curl_slist_append, struct curl_slist *, (struct curl_slist *, const char *))                 \
    X(curl_slist_free_all, void, (struct curl_slist *))

#define FLEET_DECLARE(name, result, parameters) static result(*fn_##name) parameters;
FLEET_CURL_FUNCTIONS(FLEET_DECLARE)

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static const char *load_error = "libcurl was not loaded";
static char load_message[512];
static volatile int loaded = 0;

static void load(void) {
    // The soname of every libcurl since 7.16, then the development symlink.
    void *library = dlopen("libcurl.so.4", RTLD_NOW | RTLD_LOCAL);
    if (!library) library = dlopen("libcurl.so", RTLD_NOW | RTLD_LOCAL);
    if (!library) {
        const char *why = dlerror();
        snprintf(load_message, sizeof load_message, "libcurl is not installed (apt-get install libcurl4): %s", why ? why : "dlopen failed");
        load_error = load_message;
        return;
    }
#define FLEET_RESOLVE(name, result, parameters)                                                    \
    fn_##name = (result(*) parameters)dlsym(library, #name);                                       \
    if (!fn_##name) {                                                                              \
        snprintf(load_message, sizeof load_message, "libcurl lacks %s: version 7.68 or newer is needed", #name); \
        load_error = load_message;                                                                 \
        return;                                                                                    \
    }
    FLEET_CURL_FUNCTIONS(FLEET_RESOLVE)
    if (fn_curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        load_error = "curl_global_init failed";
        return;
    }
    load_error = NULL;
    __atomic_store_n(&loaded, 1, __ATOMIC_RELEASE);
}

const char *fleet_curl_load(void) {
    pthread_once(&load_once, load);
    return load_error;
}

int fleet_curl_is_loaded(void) { return __atomic_load_n(&loaded, __ATOMIC_ACQUIRE); }

CURL *fleet_curl_easy_init(void) { return fn_curl_easy_init(); }
void fleet_curl_easy_cleanup(CURL *handle) { fn_curl_easy_cleanup(handle); }
void fleet_curl_easy_reset(CURL *handle) { fn_curl_easy_reset(handle); }
CURLcode fleet_curl_easy_pause(CURL *handle, int bitmask) { return fn_curl_easy_pause(handle, bitmask); }
const char *fleet_curl_easy_strerror(CURLcode code) {
    return fn_curl_easy_strerror ? fn_curl_easy_strerror(code) : "libcurl is not loaded";
}
CURLM *fleet_curl_multi_init(void) { return fn_curl_multi_init(); }
CURLMcode fleet_curl_multi_cleanup(CURLM *multi) { return fn_curl_multi_cleanup(multi); }
CURLMcode fleet_curl_multi_add_handle(CURLM *multi, CURL *handle) { return fn_curl_multi_add_handle(multi, handle); }
CURLMcode fleet_curl_multi_remove_handle(CURLM *multi, CURL *handle) { return fn_curl_multi_remove_handle(multi, handle); }
CURLMcode fleet_curl_multi_perform(CURLM *multi, int *running) { return fn_curl_multi_perform(multi, running); }
CURLMcode fleet_curl_multi_poll(CURLM *multi, struct curl_waitfd *extra, unsigned int count, int timeout_ms, int *ready) {
    return fn_curl_multi_poll(multi, extra, count, timeout_ms, ready);
}
CURLMcode fleet_curl_multi_wakeup(CURLM *multi) { return fn_curl_multi_wakeup(multi); }
CURLMsg *fleet_curl_multi_info_read(CURLM *multi, int *remaining) { return fn_curl_multi_info_read(multi, remaining); }
struct curl_slist *fleet_curl_slist_append(struct curl_slist *list, const char *line) { return fn_curl_slist_append(list, line); }
void fleet_curl_slist_free_all(struct curl_slist *list) { fn_curl_slist_free_all(list); }

CURLcode fleet_curl_easy_setopt_long(CURL *handle, CURLoption option, long value) {
    return fn_curl_easy_setopt(handle, option, value);
}
CURLcode fleet_curl_easy_setopt_off_t(CURL *handle, CURLoption option, curl_off_t value) {
    return fn_curl_easy_setopt(handle, option, value);
}
CURLcode fleet_curl_easy_setopt_pointer(CURL *handle, CURLoption option, void *value) {
    return fn_curl_easy_setopt(handle, option, value);
}
CURLcode fleet_curl_easy_setopt_string(CURL *handle, CURLoption option, const char *value) {
    return fn_curl_easy_setopt(handle, option, value);
}
CURLcode fleet_curl_easy_setopt_data_callback(CURL *handle, CURLoption option, fleet_curl_data_callback callback) {
    return fn_curl_easy_setopt(handle, option, callback);
}
CURLcode fleet_curl_easy_setopt_xferinfo_callback(CURL *handle, fleet_curl_xferinfo_callback callback) {
    return fn_curl_easy_setopt(handle, CURLOPT_XFERINFOFUNCTION, callback);
}
CURLcode fleet_curl_easy_getinfo_long(CURL *handle, CURLINFO info, long *value) {
    return fn_curl_easy_getinfo(handle, info, value);
}
CURLcode fleet_curl_easy_getinfo_off_t(CURL *handle, CURLINFO info, curl_off_t *value) {
    return fn_curl_easy_getinfo(handle, info, value);
}
CURLcode fleet_curl_easy_getinfo_pointer(CURL *handle, CURLINFO info, void **value) {
    return fn_curl_easy_getinfo(handle, info, value);
}
CURLMcode fleet_curl_multi_setopt_long(CURLM *handle, CURLMoption option, long value) {
    return fn_curl_multi_setopt(handle, option, value);
}

void fleet_set_current_thread_name(const char *name) { prctl(PR_SET_NAME, name, 0, 0, 0); }
