#!/usr/bin/env bash
# Makes the test PKI with the openssl tool: nothing is committed, every run
# makes fresh keys. Usage: make_certs.sh OUTDIR
#   ca.pem ca.key          the test CA (trusted by tests that pass --ca)
#   server.pem server.key  "localhost", 127.0.0.1 and ::1, signed by the CA
#   chain.pem              server.pem followed by ca.pem
#   expired.pem/.key       as server, but valid only in the past
#   wronghost.pem/.key     signed by the CA for "wrong.example"
#   selfsigned.pem/.key    "localhost", signed by itself
#   client.pem client.key  a client certificate signed by the CA
#   other-ca.pem/.key      a second CA nobody trusts
#   rogue-client.pem/.key  a client certificate from other-ca
#   sni-a.pem/.key         "a.test", signed by the CA (SNI selection)
#   sni-b.pem/.key         "b.test", signed by the CA
#   untrusted.pem/.key     as server, but signed by other-ca (an unknown CA)
#   server-combined.pem    server.pem followed by server.key (--cert without --key)
#   cadir/                 ca.pem in an OpenSSL hashed directory (--ca-dir)
set -euo pipefail
out=${1:?usage: make_certs.sh OUTDIR}
mkdir -p "$out"
cd "$out"

key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }

ext() { # ext FILE SAN [extra]
    printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=%s\nsubjectAltName=%s\n' \
        "$3" "$2" >"$1"
}

ca() { # ca NAME CN
    key "$1.key"
    openssl req -new -x509 -key "$1.key" -out "$1.pem" -days 3650 -subj "/CN=$2" \
        -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
        2>/dev/null
}

leaf() { # leaf NAME CN SAN ISSUER USAGE [start end]
    key "$1.key"
    openssl req -new -key "$1.key" -out "$1.csr" -subj "/CN=$2" 2>/dev/null
    ext "$1.ext" "$3" "$5"
    if [ $# -ge 7 ]; then
        # Dates in the past need the x509 -not_before option (OpenSSL 3.4+)
        # or the ca command; the ca command works everywhere.
        mkdir -p "$1.db"
        : >"$1.db/index.txt"
        printf '[ca]\ndefault_ca=d\n[d]\ndatabase=%s/index.txt\nnew_certs_dir=%s\nserial=%s/serial\ndefault_md=sha256\npolicy=p\ncopy_extensions=none\n[p]\ncommonName=supplied\n' \
            "$1.db" "$1.db" "$1.db" >"$1.db/ca.cnf"
        echo 01 >"$1.db/serial"
        openssl ca -batch -config "$1.db/ca.cnf" -cert "$4.pem" -keyfile "$4.key" \
            -in "$1.csr" -out "$1.pem" -startdate "$6" -enddate "$7" -extfile "$1.ext" \
            -notext 2>/dev/null
        rm -rf "$1.db"
    else
        openssl x509 -req -in "$1.csr" -CA "$4.pem" -CAkey "$4.key" -CAcreateserial \
            -out "$1.pem" -days 825 -sha256 -extfile "$1.ext" 2>/dev/null
    fi
    rm -f "$1.csr" "$1.ext"
}

ca ca "tether test CA"
ca other-ca "tether untrusted CA"
leaf server localhost "DNS:localhost,IP:127.0.0.1,IP:::1" ca serverAuth
cat server.pem ca.pem >chain.pem
leaf expired localhost "DNS:localhost,IP:127.0.0.1,IP:::1" ca serverAuth \
    20200101000000Z 20210101000000Z
leaf wronghost wrong.example "DNS:wrong.example" ca serverAuth
leaf client "tether test client" "DNS:client.test" ca clientAuth
leaf rogue-client "rogue client" "DNS:rogue.test" other-ca clientAuth
leaf sni-a a.test "DNS:a.test" ca serverAuth
leaf sni-b b.test "DNS:b.test" ca serverAuth
leaf untrusted localhost "DNS:localhost,IP:127.0.0.1,IP:::1" other-ca serverAuth
cat server.pem server.key >server-combined.pem
mkdir -p cadir
cp ca.pem cadir/ca.pem
openssl rehash cadir 2>/dev/null || c_rehash cadir >/dev/null
key selfsigned.key
openssl req -new -x509 -key selfsigned.key -out selfsigned.pem -days 825 -subj "/CN=localhost" \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" 2>/dev/null
rm -f ./*.srl
echo "certificates in $out"
