/* SPDX-License-Identifier: Apache-2.0 */
/* The call helpers shared by the pod and container CRI methods
 * (server/cri-common.h). */

#include <errno.h>

#include <ocid/error.h>

#include "server/call.h"
#include "server/cri-common.h"
#include "server/methods.h"

int cri_lifecycle(struct server_call *call, const char *what, struct lifecycle **ret, struct ocid_error **err)
{
        const struct server_env *env = server_call_env(call);

        if (!env->lifecycle)
                return ocid_error_msg(err, EAGAIN, "the %s lifecycle is not available", what);
        *ret = env->lifecycle;
        return 0;
}

static bool call_is_cancelled(void *userdata)
{
        return server_call_is_cancelled(userdata);
}

struct lc_caller cri_caller(struct server_call *call)
{
        return (struct lc_caller) { call_is_cancelled, server_call_deadline(call), call };
}
