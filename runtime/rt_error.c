/*  rt_error.c - names of the runtime's error codes */
#include <string.h>
#include "rt_error.h"

const char *
rt_strerror (int err)
{
    switch (err) {
        case RT_OK:             return "ok";
        case RT_EOVERLOADED:    return "overloaded: mailbox or inbox full";
        case RT_ETIMEOUT:       return "deadline passed before a reply";
        case RT_ENOTYPE:        return "actor type not registered";
        case RT_ENOHANDLER:     return "no handler for this message type";
        case RT_EKILLED:        return "actor killed before the message ran";
        case RT_EMALFORMED:     return "malformed message or record";
        case RT_ETOOBIG:        return "over a size limit";
        case RT_ESTORE:         return "storage failed; turn not kept";
        case RT_EIDEM_REUSED:   return "idempotency key reused for another request";
        case RT_EIDEM_INFLIGHT: return "idempotency key still in flight";
        case RT_ESTOPPED:       return "runtime stopping";
        case RT_ENOMEM:         return "out of memory";
        case RT_EINVAL:         return "invalid argument";
        case RT_ECONFIG:        return "invalid configuration";
        case RT_ECORRUPT:       return "data directory holds foreign or corrupt data";
        case RT_EMAPFULL:       return "store map at its size ceiling";
        case RT_EUNAVAILABLE:   return "the node owning this data is unavailable";
        case RT_ENOTOWNER:      return "this data is moving between nodes";
        case RT_ENOSPACE:       return "the node holding this data is out of disk space; writes refused until it is freed";
        default:
            if (err < 0 && err > -4096)
                return strerror (-err);
            return "unknown error";
    }
}
