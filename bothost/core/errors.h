/* SPDX-License-Identifier: ISC */
/* The stable error names of the protocol (docs/PROTOCOL.md, section 7). */
#ifndef BOTHOST_ERRORS_H
#define BOTHOST_ERRORS_H

#define ERR_PROTOCOL		"ProtocolError"
#define ERR_FRAME_TOO_LARGE	"FrameTooLarge"
#define ERR_VERSION_MISMATCH	"VersionMismatch"
#define ERR_NO_SUCH_OBJECT	"NoSuchObject"
#define ERR_NO_SUCH_METHOD	"NoSuchMethod"
#define ERR_NO_SUCH_EVENT	"NoSuchEvent"
#define ERR_NO_SUCH_FUNCTION	"NoSuchFunction"
#define ERR_INVALID_ARGUMENTS	"InvalidArguments"
#define ERR_LIMIT_EXCEEDED	"LimitExceeded"
#define ERR_PERMISSION_DENIED	"PermissionDenied"
#define ERR_TIMEOUT		"Timeout"
#define ERR_DISCONNECTED	"Disconnected"
#define ERR_FAILED		"Failed"

#endif
