#ifndef FLEET_CCURL_SHIM_H
#define FLEET_CCURL_SHIM_H
#include <curl/curl.h>
#endif
