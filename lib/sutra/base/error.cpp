#include "sutra/base/error.hpp"

namespace sutra {

const char* errc_name(Errc code) {
    switch (code) {
        case Errc::invalid_argument:
            return "invalid_argument";
        case Errc::not_found:
            return "not_found";
        case Errc::io:
            return "io";
        case Errc::bad_format:
            return "bad_format";
        case Errc::unsupported:
            return "unsupported";
        case Errc::too_large:
            return "too_large";
        case Errc::exists:
            return "exists";
        case Errc::corrupt:
            return "corrupt";
        case Errc::interrupted:
            return "interrupted";
        case Errc::internal:
            return "internal";
    }
    return "internal";
}

}  // namespace sutra
