/* SPDX-License-Identifier: ISC */
/* botkit-ircclient: the error codes of libircclient 1.9 (same names and
 * values), read with irc_errno() and described by irc_strerror(). Include
 * <libircclient.h>, not this file. */
#ifndef INCLUDE_IRC_ERRORS_H
#define INCLUDE_IRC_ERRORS_H

#ifndef IN_INCLUDE_LIBIRC_H
#error "include <libircclient.h>, which includes this file"
#endif

#define LIBIRC_ERR_OK                     0	/* no error */
#define LIBIRC_ERR_INVAL                  1	/* a bad argument: NULL, CR, LF or NUL in text, refused by the host */
#define LIBIRC_ERR_RESOLV                 2	/* (libircclient: host not resolved) */
#define LIBIRC_ERR_SOCKET                 3	/* (libircclient: no socket) */
#define LIBIRC_ERR_CONNECT                4	/* no connection to bothost */
#define LIBIRC_ERR_CLOSED                 5	/* the session ended (irc_cmd_quit, irc_disconnect, the host went away) */
#define LIBIRC_ERR_NOMEM                  6	/* out of memory, or the host's outbound queue is full */
#define LIBIRC_ERR_ACCEPT                 7	/* (libircclient: DCC accept failed) */
#define LIBIRC_ERR_NODCCSEND              9	/* (libircclient: DCC send refused) */
#define LIBIRC_ERR_READ                   10	/* reading from the host failed */
#define LIBIRC_ERR_WRITE                  11	/* writing to the host failed */
#define LIBIRC_ERR_STATE                  12	/* not possible in this state (not attached, already attached) */
#define LIBIRC_ERR_TIMEOUT                13	/* the host did not answer in time */
#define LIBIRC_ERR_OPENFILE               14	/* (libircclient: DCC file) */
#define LIBIRC_ERR_TERMINATED             15	/* the IRC connection ended */
#define LIBIRC_ERR_NOIPV6                 16	/* (libircclient: no IPv6) */
#define LIBIRC_ERR_SSL_NOT_SUPPORTED      17	/* (libircclient: no SSL) */
#define LIBIRC_ERR_SSL_INIT_FAILED        18	/* (libircclient: SSL) */
#define LIBIRC_ERR_CONNECT_SSL_FAILED     19	/* (libircclient: SSL) */
#define LIBIRC_ERR_SSL_CERT_VERIFY_FAILED 20	/* (libircclient: SSL) */
#define LIBIRC_ERR_MAX                    21	/* libircclient 1.9's bound, unchanged */

/* botkit-ircclient only (not in libircclient 1.9): what bothost cannot do
 * for a behaviour (DCC, a raw command its irc object has no method for).
 * Beyond LIBIRC_ERR_MAX, so that tables sized by it stay valid. */
#define LIBIRC_ERR_NOTSUPPORTED           21

#endif
