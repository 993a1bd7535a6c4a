#ifndef PARLEY_COPENSSL_SHIM_H
#define PARLEY_COPENSSL_SHIM_H
#include <string.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/x509_vfy.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/err.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/bn.h>
#include <openssl/bio.h>
#include <openssl/crypto.h>
#include <openssl/objects.h>

/*
 * Wrappers for what Swift cannot import from the OpenSSL 3 headers: function-like macros
 * (stacks, OPENSSL_free, BIO controls, app data), variadic functions and composite flag macros.
 * Every wrapper is a plain forwarder; no logic lives here except the passphrase callback.
 */

/* Memory */
static inline void parley_OPENSSL_free(void *pointer) { OPENSSL_free(pointer); }

/* STACK_OF(X509) */
static inline STACK_OF(X509) *parley_sk_X509_new_null(void) { return sk_X509_new_null(); }
static inline int parley_sk_X509_push(STACK_OF(X509) *stack, X509 *certificate) { return sk_X509_push(stack, certificate); }
static inline int parley_sk_X509_num(const STACK_OF(X509) *stack) { return sk_X509_num(stack); }
static inline X509 *parley_sk_X509_value(const STACK_OF(X509) *stack, int index) { return sk_X509_value(stack, index); }
/* Frees the stack only; the certificates stay owned by their Swift wrappers. */
static inline void parley_sk_X509_free(STACK_OF(X509) *stack) { sk_X509_free(stack); }

/* STACK_OF(X509_REVOKED) */
static inline int parley_sk_X509_REVOKED_num(const STACK_OF(X509_REVOKED) *stack) { return sk_X509_REVOKED_num(stack); }
static inline X509_REVOKED *parley_sk_X509_REVOKED_value(const STACK_OF(X509_REVOKED) *stack, int index) { return sk_X509_REVOKED_value(stack, index); }

/* GENERAL_NAMES (subjectAltName) */
static inline int parley_sk_GENERAL_NAME_num(const GENERAL_NAMES *names) { return sk_GENERAL_NAME_num(names); }
static inline GENERAL_NAME *parley_sk_GENERAL_NAME_value(const GENERAL_NAMES *names, int index) { return sk_GENERAL_NAME_value(names, index); }
static inline const ASN1_IA5STRING *parley_GENERAL_NAME_get0_uri(const GENERAL_NAME *name) {
    return name->type == GEN_URI ? name->d.uniformResourceIdentifier : NULL;
}

/* BIO */
static inline long parley_BIO_get_mem_data(BIO *bio, char **data) { return BIO_get_mem_data(bio, data); }

/* X509_STORE_CTX application data */
static inline int parley_X509_STORE_CTX_set_app_data(X509_STORE_CTX *ctx, void *data) { return X509_STORE_CTX_set_app_data(ctx, data); }
static inline void *parley_X509_STORE_CTX_get_app_data(X509_STORE_CTX *ctx) { return X509_STORE_CTX_get_app_data(ctx); }

/* Composite flag macros */
static inline unsigned long parley_XN_FLAG_RFC2253(void) { return XN_FLAG_RFC2253; }
static inline int parley_EVP_PKEY_ED25519(void) { return EVP_PKEY_ED25519; }
static inline int parley_EVP_PKEY_EC(void) { return EVP_PKEY_EC; }

/* Key generation (EVP_PKEY_Q_keygen is variadic). */
static inline EVP_PKEY *parley_generate_ed25519(void) { return EVP_PKEY_Q_keygen(NULL, NULL, "ED25519"); }
static inline EVP_PKEY *parley_generate_ec(const char *curve) { return EVP_PKEY_Q_keygen(NULL, NULL, "EC", curve); }

/*
 * pem_password_cb that supplies `userdata` (a NUL-terminated passphrase) or fails when there is none,
 * so that OpenSSL never falls back to prompting on the terminal.
 */
static inline int parley_passphrase_callback(char *buffer, int size, int rwflag, void *userdata) {
    (void)rwflag;
    if (userdata == NULL || size <= 0) return -1;
    size_t length = strlen((const char *)userdata);
    if (length > (size_t)size) return -1;
    memcpy(buffer, userdata, length);
    return (int)length;
}
static inline pem_password_cb *parley_passphrase_callback_pointer(void) { return parley_passphrase_callback; }

#endif
