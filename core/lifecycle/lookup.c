/* SPDX-License-Identifier: Apache-2.0 */
/* The ID lookup shared by pods and containers (lifecycle/lookup.h). */

#include <errno.h>

#include <ocid/error.h>

#include "lifecycle/lookup.h"
#include "registry/store.h"
#include "registry/truncindex.h"

void *lc_lookup(struct truncindex *index, struct store *store, const char *id, const char *what,
                const char *field, struct ocid_error **err)
{
        char full[TRUNCINDEX_ID_LEN + 1];
        void *obj;
        int r;

        if (!id || !*id) {
                (void) ocid_error_msg(err, EINVAL, "%s is empty", field);
                return NULL;
        }
        r = truncindex_get(index, id, full, err);
        if (r < 0) {
                if (r == -ENOENT) {
                        ocid_error_clear(err);
                        (void) ocid_error_msg(err, ENOENT, "%s '%s' not found", what, id);
                }
                return NULL;
        }
        obj = store_get(store, full);
        if (!obj)
                (void) ocid_error_msg(err, ENOENT, "%s '%s' not found", what, id);
        return obj;
}
