"""The ONNX reader's parts, by job; its front door is :mod:`model.files.onnx_import`."""
