"""The Keras reader's parts, by job; its front door is :mod:`model.files.keras_import`."""
