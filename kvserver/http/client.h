// A small blocking HTTP/1.1 client: one request per call on its own connection, for tools,
// tests and node-to-node calls (join, forwarding). Stateless; any thread may call it, and
// concurrent calls share nothing.
//
// What it sends: "<method> <target> HTTP/1.1", Host, "Connection: close", Content-Length
// when there is a body or the method is POST, PUT or PATCH, and "Content-Type:
// application/json" when the body is not empty and the caller gave no Content-Type; then the
// caller's headers (Host, Connection and Content-Length among them are ignored).
// What it reads: exactly one final response, parsed with http-parser (interim 1xx responses
// are skipped; a body without Content-Length is read until the server closes), up to 64 MiB of
// body.
//
// Errors: kInvalidArgument for a bad address, method, target or header; kIoError when the
// connection is refused or breaks or the response is not HTTP ("malformed HTTP response:
// ..."); kTimeout when connecting, writing and reading together take longer than `timeout`.
// A host name (not an IP address) is resolved by the system resolver, which the deadline
// cannot interrupt.
#pragma once

#include <chrono>
#include <string>

#include "http/message.h"
#include "raft/status.h"

namespace kv::http {

// Sends one request to `host_port` ("host:port", "[v6]:port") and returns the response,
// whatever its status.
raft::Result<ClientResponse> request(const std::string& host_port, std::string method,
                                     std::string target, std::string body,
                                     std::chrono::milliseconds timeout, HeaderList headers = {});

// Like request(), then follows up to `max_redirects` 307/308 answers to their Location,
// "http://host:port/path?query" or "/path?query" (same server), re-sending the same method,
// body and headers. `timeout` covers every hop together. Returns the first response that is
// not a 307/308 with a Location, or the last redirect once max_redirects were followed.
// kInvalidArgument for a Location it cannot follow (not http://).
raft::Result<ClientResponse> request_following_redirects(
    const std::string& host_port, std::string method, std::string target, std::string body,
    std::chrono::milliseconds timeout, int max_redirects, HeaderList headers = {});

}  // namespace kv::http
