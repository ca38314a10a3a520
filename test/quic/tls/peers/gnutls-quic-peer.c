/*
 * A GnuTLS (>= 3.7) TLS 1.3 endpoint in QUIC mode, as an independent peer for httpsd's TLS engine tests.
 * It speaks a line protocol on stdin/stdout:
 *   in:  DATA <level> <hex>        handshake bytes from the other side at that level (0 initial .. 3 application)
 *   out: DATA <level> <hex>        handshake bytes to deliver
 *        SECRET <level> <read|write> <hex>
 *        TP <hex>                  the peer's quic_transport_parameters
 *        ALERT <description>       GnuTLS wants to send this fatal alert
 *        DONE <alpn> <resumed 0|1> <0-RTT accepted 0|1>   handshake complete
 *        TICKET <hex>              client: session data after a NewSessionTicket (for "resume")
 *        ERROR <text>
 *        WAIT                      all output for the last input is written
 *   in:  NEXT                      server: end this connection, start another (same ticket key and anti-replay)
 * Environment: PEER_PRIORITY (a GnuTLS priority string), PEER_TICKET_KEY (server: 64-byte ticket key, hex),
 *              PEER_MAX_EARLY_DATA (server: the tickets' max_early_data_size, default 0xffffffff),
 *              PEER_DEBUG (GnuTLS log level, to stderr).
 * Usage: gnutls-quic-peer client <alpn> <server-name> <tp-hex> [<session-hex> (resume, 0-RTT when allowed)]
 *        gnutls-quic-peer server <alpn> <cert.pem> <key.pem> <tp-hex>
 */
#include <gnutls/gnutls.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned char tp[512];
static size_t tp_len;
static int done;

static void print_hex(const unsigned char *data, size_t len) {
  for (size_t i = 0; i < len; i++) printf("%02x", data[i]);
}

static size_t from_hex(const char *hex, unsigned char *out, size_t max) {
  size_t n = 0;
  while (hex[0] && hex[1] && n < max) {
    unsigned int byte;
    if (sscanf(hex, "%2x", &byte) != 1) break;
    out[n++] = (unsigned char)byte;
    hex += 2;
  }
  return n;
}

static int on_secret(gnutls_session_t session, gnutls_record_encryption_level_t level, const void *read_secret,
                     const void *write_secret, size_t size) {
  (void)session;
  if (read_secret) { printf("SECRET %d read ", (int)level); print_hex(read_secret, size); printf("\n"); }
  if (write_secret) { printf("SECRET %d write ", (int)level); print_hex(write_secret, size); printf("\n"); }
  return 0;
}

static int on_handshake(gnutls_session_t session, gnutls_record_encryption_level_t level, gnutls_handshake_description_t type,
                        const void *data, size_t size) {
  (void)session;
  (void)type;
  printf("DATA %d ", (int)level);
  print_hex(data, size);
  printf("\n");
  return 0;
}

static int on_alert(gnutls_session_t session, gnutls_record_encryption_level_t level, gnutls_alert_level_t alert_level,
                    gnutls_alert_description_t description) {
  (void)session;
  (void)level;
  (void)alert_level;
  printf("ALERT %d\n", (int)description);
  return 0;
}

static int tp_receive(gnutls_session_t session, const unsigned char *data, size_t size) {
  (void)session;
  printf("TP ");
  print_hex(data, size);
  printf("\n");
  return 0;
}

static int tp_send(gnutls_session_t session, gnutls_buffer_t out) {
  (void)session;
  return gnutls_buffer_append_data(out, tp, tp_len);
}

/* Called after GnuTLS processed a NewSessionTicket: the session data that resumes. */
static int on_ticket(gnutls_session_t session, unsigned int type, unsigned when, unsigned int incoming, const gnutls_datum_t *message) {
  (void)type;
  (void)when;
  (void)incoming;
  (void)message;
  gnutls_datum_t data;
  if (gnutls_session_get_data2(session, &data) == 0) {
    printf("TICKET ");
    print_hex(data.data, data.size);
    printf("\n");
    gnutls_free(data.data);
  }
  return 0;
}

static void log_line(int level, const char *text) {
  fprintf(stderr, "gnutls[%d]: %s", level, text);
}

static int remember_hello(void *ptr, time_t expires, const gnutls_datum_t *key, const gnutls_datum_t *data) {
  (void)ptr;
  (void)expires;
  (void)key;
  (void)data;
  return 0;
}

static ssize_t no_push(gnutls_transport_ptr_t ptr, const void *data, size_t size) {
  (void)ptr;
  (void)data;
  return (ssize_t)size;
}

static ssize_t no_pull(gnutls_transport_ptr_t ptr, void *data, size_t size) {
  (void)data;
  (void)size;
  gnutls_transport_set_errno((gnutls_session_t)ptr, EAGAIN);
  return -1;
}

static void step(gnutls_session_t session) {
  if (!done) {
    int rv = gnutls_handshake(session);
    if (rv == 0) {
      gnutls_datum_t alpn;
      done = 1;
      int resumed = gnutls_session_is_resumed(session) != 0;
      int early = (gnutls_session_get_flags(session) & GNUTLS_SFLAGS_EARLY_DATA) != 0;
      if (gnutls_alpn_get_selected_protocol(session, &alpn) == 0) printf("DONE %.*s %d %d\n", (int)alpn.size, alpn.data, resumed, early);
      else printf("DONE - %d %d\n", resumed, early);
    } else if (gnutls_error_is_fatal(rv)) {
      printf("ERROR %s\n", gnutls_strerror(rv));
    }
  }
  printf("WAIT\n");
  fflush(stdout);
}

static gnutls_certificate_credentials_t credentials;
static gnutls_anti_replay_t anti_replay;
static unsigned char ticket_key[64];
static int have_ticket_key;

/* One session with everything this peer configures; a server process can run several in turn (NEXT). */
static gnutls_session_t open_session(int server, int argc, char **argv) {
  gnutls_session_t session;
  unsigned flags = (server ? GNUTLS_SERVER : GNUTLS_CLIENT) | GNUTLS_NO_END_OF_EARLY_DATA | GNUTLS_ENABLE_EARLY_DATA;
  gnutls_init(&session, flags);
  const char *priority = getenv("PEER_PRIORITY");
  if (priority == NULL)
    priority = "%DISABLE_TLS13_COMPAT_MODE:NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:+CHACHA20-POLY1305:"
               "-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1";
  if (gnutls_priority_set_direct(session, priority, NULL) < 0) printf("ERROR priority\n");
  if (!server) {
    gnutls_server_name_set(session, GNUTLS_NAME_DNS, argv[3], strlen(argv[3]));
    gnutls_handshake_set_hook_function(session, GNUTLS_HANDSHAKE_NEW_SESSION_TICKET, GNUTLS_HOOK_POST, on_ticket);
    if (argc > 5) {
      static unsigned char saved[1 << 16];
      size_t saved_len = from_hex(argv[5], saved, sizeof saved);
      if (gnutls_session_set_data(session, saved, saved_len) < 0) printf("ERROR session data\n");
    }
  }
  gnutls_credentials_set(session, GNUTLS_CRD_CERTIFICATE, credentials);
  if (server && have_ticket_key) {
    gnutls_datum_t key = { ticket_key, sizeof ticket_key };
    if (gnutls_session_ticket_enable_server(session, &key) < 0) printf("ERROR ticket key\n");
    /* RFC 9001 §4.6.1: a QUIC server's tickets say 0xffffffff (as ngtcp2 configures GnuTLS); PEER_MAX_EARLY_DATA
       overrides it to play a non-conforming server. */
    const char *max_early = getenv("PEER_MAX_EARLY_DATA");
    gnutls_record_set_max_early_data_size(session, max_early != NULL ? strtoul(max_early, NULL, 10) : 0xffffffffUL);
    gnutls_anti_replay_enable(session, anti_replay);
  }
  static gnutls_datum_t alpn;
  alpn.data = (unsigned char *)argv[2];
  alpn.size = (unsigned)strlen(argv[2]);
  gnutls_alpn_set_protocols(session, &alpn, 1, GNUTLS_ALPN_MANDATORY);
  gnutls_handshake_set_secret_function(session, on_secret);
  gnutls_handshake_set_read_function(session, on_handshake);
  gnutls_alert_set_read_function(session, on_alert);
  gnutls_session_ext_register(session, "quic_transport_parameters", 0x39, GNUTLS_EXT_TLS, tp_receive, tp_send, NULL, NULL, NULL,
                              GNUTLS_EXT_FLAG_TLS | GNUTLS_EXT_FLAG_CLIENT_HELLO | GNUTLS_EXT_FLAG_EE);
  gnutls_transport_set_ptr(session, session);
  gnutls_transport_set_push_function(session, no_push);
  gnutls_transport_set_pull_function(session, no_pull);
  done = 0;
  return session;
}

int main(int argc, char **argv) {
  if (argc < 5) return 2;
  int server = strcmp(argv[1], "server") == 0;
  if (server && argc < 6) return 2;
  tp_len = from_hex(argv[server ? 5 : 4], tp, sizeof tp);

  gnutls_global_init();
  if (getenv("PEER_DEBUG") != NULL) {
    gnutls_global_set_log_function(log_line);
    gnutls_global_set_log_level(atoi(getenv("PEER_DEBUG")));
  }
  gnutls_certificate_allocate_credentials(&credentials);
  if (server && gnutls_certificate_set_x509_key_file(credentials, argv[3], argv[4], GNUTLS_X509_FMT_PEM) < 0) {
    printf("ERROR certificate\nWAIT\n");
    return 1;
  }
  /* Server: with PEER_TICKET_KEY (64 bytes, hex) it issues tickets and accepts 0-RTT. GnuTLS takes 0-RTT only with an
     anti-replay context, which refuses tickets older than itself: it lives as long as the process (see NEXT). */
  const char *ticket_key_hex = getenv("PEER_TICKET_KEY");
  have_ticket_key = server && ticket_key_hex != NULL && from_hex(ticket_key_hex, ticket_key, sizeof ticket_key) == sizeof ticket_key;
  if (have_ticket_key) {
    gnutls_anti_replay_init(&anti_replay);
    gnutls_anti_replay_set_add_function(anti_replay, remember_hello);
  }

  gnutls_session_t session = open_session(server, argc, argv);
  if (!server) step(session);
  static char line[1 << 20];
  static unsigned char data[1 << 19];
  while (fgets(line, sizeof line, stdin) != NULL) {
    int level;
    int offset;
    if (server && strncmp(line, "NEXT", 4) == 0) {
      /* A new connection in the same process: same ticket key and anti-replay context. */
      gnutls_deinit(session);
      session = open_session(server, argc, argv);
      printf("WAIT\n");
      fflush(stdout);
      continue;
    }
    if (sscanf(line, "DATA %d %n", &level, &offset) != 1) continue;
    size_t size = from_hex(line + offset, data, sizeof data);
    int rv = gnutls_handshake_write(session, (gnutls_record_encryption_level_t)level, data, size);
    if (rv < 0) printf("ERROR write %s\n", gnutls_strerror(rv));
    step(session);
  }
  gnutls_deinit(session);
  gnutls_certificate_free_credentials(credentials);
  gnutls_global_deinit();
  return 0;
}
