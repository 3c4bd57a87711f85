"""leadflow: hands leads from marketing to sales and closes the loop back."""

__version__ = "0.1.0"
