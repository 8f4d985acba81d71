#include "core/err.h"

#include <string.h>

const char *err_str(int rc)
{
	switch (rc) {
	case ERR_OK:     return "success";
	case ERR_PARSE:  return "malformed input";
	case ERR_LIMIT:  return "limit exceeded";
	case ERR_CONFIG: return "invalid configuration";
	case ERR_NOSERV: return "no server available";
	case ERR_CLOSED: return "connection closed by peer";
	case ERR_TLS:    return "TLS failure";
	case ERR_CLOCK:  return "clock moved backwards";
	case ERR_LEASE:  return "past the recorded lease";
	}
	if (rc < 0 && rc > ERR_BASE)
		return strerror(-rc);
	return "unknown error";
}
