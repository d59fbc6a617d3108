/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The CRI ImageService: PullImage, ListImages, ImageStatus, RemoveImage,
 * ImageFsInfo, on the image store and puller of the server environment.
 * docs/images.md, "The ImageService", describes their behaviour. */

#include <protobuf-c/protobuf-c.h>

struct ocid_error;
struct server_call;

int cri_image_pull(struct server_call *call, const ProtobufCMessage *request, struct ocid_error **err);
int cri_image_list(struct server_call *call, const ProtobufCMessage *request, struct ocid_error **err);
int cri_image_status(struct server_call *call, const ProtobufCMessage *request, struct ocid_error **err);
int cri_image_remove(struct server_call *call, const ProtobufCMessage *request, struct ocid_error **err);
int cri_image_fs_info(struct server_call *call, const ProtobufCMessage *request, struct ocid_error **err);

/* The mount point of the file system holding path (newly allocated). */
int cri_image_mountpoint(const char *path, char **ret, struct ocid_error **err);
