# Turns a binary file into a C++ source holding its bytes:
#   cmake -DIN=file -DOUT=out.cpp -DSYMBOL=name -P embed_file.cmake
# The source defines `extern const unsigned char SYMBOL[]` and `extern const size_t SYMBOL_size`.
file(READ "${IN}" hex HEX)
string(LENGTH "${hex}" n)
math(EXPR bytes "${n} / 2")
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," body "${hex}")
string(REGEX REPLACE "((0x[0-9a-f][0-9a-f],){32})" "\\1\n" body "${body}")
file(WRITE "${OUT}" "// Generated from ${IN} by cmake/embed_file.cmake; do not edit.\n#include <cstddef>\nextern const unsigned char ${SYMBOL}[] = {\n${body}\n};\nextern const size_t ${SYMBOL}_size = ${bytes};\n")
