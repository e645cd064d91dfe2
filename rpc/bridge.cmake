# Owned by the bridge work: kj::EventPort driven by asio::io_context, and a
# kj::AsyncIoStream over a non-blocking fd watched by Asio.
