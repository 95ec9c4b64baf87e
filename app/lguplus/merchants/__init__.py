"""LG U+ small-merchant DX program (광주 서구): merchants, subsidised solutions, consulting, outcomes."""
