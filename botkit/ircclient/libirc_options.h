/* SPDX-License-Identifier: ISC */
/* botkit-ircclient: the session options of libircclient 1.9 (same names and
 * values), for irc_option_set() and irc_option_reset(). Include
 * <libircclient.h>, not this file. */
#ifndef INCLUDE_IRC_OPTIONS_H
#define INCLUDE_IRC_OPTIONS_H

#ifndef IN_INCLUDE_LIBIRC_H
#error "include <libircclient.h>, which includes this file"
#endif

#define LIBIRC_OPTION_DEBUG         (1 << 1)	/* accepted; the library never prints */
#define LIBIRC_OPTION_STRIPNICKS    (1 << 2)	/* origins are the nick only ("nick", not "nick!user@host") */
#define LIBIRC_OPTION_SSL_NO_VERIFY (1 << 3)	/* accepted; TLS is the host's ([irc] tls) */

#endif
