/* SPDX-License-Identifier: ISC */
/* Deep copies of the IRC configuration. */
#include "config.h"

#include "irc_conf.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "irc_conf.h"

/* A copy of s, NULL staying NULL; false when the copy failed. */
static bool irc_conf_dup(char **dst, const char *s)
{
	*dst = s ? strdup(s) : NULL;
	return !s || *dst;
}

/* Copy the server list. */
static int irc_conf_copy_servers(struct conf_irc *dst, const struct conf_irc *src)
{
	if (src->n_servers == 0)
		return 0;
	dst->servers = calloc(src->n_servers, sizeof *dst->servers);
	if (!dst->servers)
		return -ENOMEM;
	dst->n_servers = src->n_servers;
	for (size_t i = 0; i < src->n_servers; i++) {
		dst->servers[i].tls = src->servers[i].tls;
		dst->servers[i].scheme = src->servers[i].scheme;
		if (!irc_conf_dup(&dst->servers[i].host, src->servers[i].host) ||
		    !irc_conf_dup(&dst->servers[i].port, src->servers[i].port))
			return -ENOMEM;
	}
	return 0;
}

/* Copy the alternative nicks. */
static int irc_conf_copy_alt_nicks(struct conf_irc *dst, const struct conf_irc *src)
{
	if (src->n_alt_nicks == 0)
		return 0;
	dst->alt_nicks = calloc(src->n_alt_nicks, sizeof *dst->alt_nicks);
	if (!dst->alt_nicks)
		return -ENOMEM;
	dst->n_alt_nicks = src->n_alt_nicks;
	for (size_t i = 0; i < src->n_alt_nicks; i++)
		if (!irc_conf_dup(&dst->alt_nicks[i], src->alt_nicks[i]))
			return -ENOMEM;
	return 0;
}

/* Copy the channel list. */
static int irc_conf_copy_channels(struct conf_irc *dst, const struct conf_irc *src)
{
	if (src->n_channels == 0)
		return 0;
	dst->channels = calloc(src->n_channels, sizeof *dst->channels);
	if (!dst->channels)
		return -ENOMEM;
	dst->n_channels = src->n_channels;
	for (size_t i = 0; i < src->n_channels; i++)
		if (!irc_conf_dup(&dst->channels[i].name, src->channels[i].name) ||
		    !irc_conf_dup(&dst->channels[i].key, src->channels[i].key))
			return -ENOMEM;
	return 0;
}

/* Copy everything: scalars by value, strings and arrays anew. */
int irc_conf_copy(struct conf_irc *dst, const struct conf_irc *src)
{
	*dst = *src;
	dst->servers = NULL;
	dst->n_servers = 0;
	dst->alt_nicks = NULL;
	dst->n_alt_nicks = 0;
	dst->channels = NULL;
	dst->n_channels = 0;
	dst->nick = dst->username = dst->realname = dst->password = dst->ctcp_version = NULL;
	dst->tls_fingerprint = dst->tls_ca_file = dst->tls_cert = dst->tls_key = NULL;
	dst->sasl_user = dst->sasl_password = NULL;
	if (irc_conf_copy_servers(dst, src) < 0 || irc_conf_copy_alt_nicks(dst, src) < 0 ||
	    irc_conf_copy_channels(dst, src) < 0 || !irc_conf_dup(&dst->nick, src->nick) ||
	    !irc_conf_dup(&dst->username, src->username) || !irc_conf_dup(&dst->realname, src->realname) ||
	    !irc_conf_dup(&dst->password, src->password) ||
	    !irc_conf_dup(&dst->ctcp_version, src->ctcp_version) ||
	    !irc_conf_dup(&dst->tls_fingerprint, src->tls_fingerprint) ||
	    !irc_conf_dup(&dst->tls_ca_file, src->tls_ca_file) || !irc_conf_dup(&dst->tls_cert, src->tls_cert) ||
	    !irc_conf_dup(&dst->tls_key, src->tls_key) || !irc_conf_dup(&dst->sasl_user, src->sasl_user) ||
	    !irc_conf_dup(&dst->sasl_password, src->sasl_password)) {
		irc_conf_clear(dst);
		return -ENOMEM;
	}
	return 0;
}

/* Free the copy's strings and arrays. */
void irc_conf_clear(struct conf_irc *c)
{
	for (size_t i = 0; c->servers && i < c->n_servers; i++) {
		free(c->servers[i].host);
		free(c->servers[i].port);
	}
	for (size_t i = 0; c->alt_nicks && i < c->n_alt_nicks; i++)
		free(c->alt_nicks[i]);
	for (size_t i = 0; c->channels && i < c->n_channels; i++) {
		free(c->channels[i].name);
		free(c->channels[i].key);
	}
	free(c->servers);
	free(c->alt_nicks);
	free(c->channels);
	free(c->nick);
	free(c->username);
	free(c->realname);
	free(c->password);
	free(c->ctcp_version);
	free(c->tls_fingerprint);
	free(c->tls_ca_file);
	free(c->tls_cert);
	free(c->tls_key);
	free(c->sasl_user);
	if (c->sasl_password)
		explicit_bzero(c->sasl_password, strlen(c->sasl_password));
	free(c->sasl_password);
	memset(c, 0, sizeof *c);
}

/* Replace the nick. */
int irc_conf_set_nick(struct conf_irc *c, const char *nick)
{
	char *copy = strdup(nick);

	if (!copy)
		return -ENOMEM;
	free(c->nick);
	c->nick = copy;
	return 0;
}

/* Whether channel is one of the configured ones. */
bool irc_conf_has_channel(const struct conf_irc *c, const char *channel)
{
	for (size_t i = 0; i < c->n_channels; i++)
		if (strcmp(c->channels[i].name, channel) == 0)
			return true;
	return false;
}
