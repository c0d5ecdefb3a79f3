"""Edge formats: domain values to and from the API's protobuf messages.

The domain never imports these (nor any generated code); servicers use them at the
gRPC edge, and the embedded store, which keeps profiles as Profile messages.
"""
