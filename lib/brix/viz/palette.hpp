#pragma once
// The colours of brix's pictures, one meaning each across pages: Paul Tol's colour-blind safe
// "bright" and "muted" schemes (https://personal.sron.nl/~pault/), plus greys for idle time.

#include <string_view>

namespace brix::viz::colour {

inline constexpr std::string_view forward = "#4477AA";    ///< forward compute
inline constexpr std::string_view backward = "#228833";   ///< backward compute
inline constexpr std::string_view recompute = "#CCBB44";  ///< recomputed forward
inline constexpr std::string_view weight_grad = "#66CCEE"; ///< deferred weight gradients (zero-bubble)
inline constexpr std::string_view tensor_comm = "#AA3377"; ///< exposed TP (+SP) collectives
inline constexpr std::string_view expert_comm = "#EE6677"; ///< exposed expert all-to-all
inline constexpr std::string_view context_comm = "#882255"; ///< exposed context-parallel exchange
inline constexpr std::string_view pipeline_comm = "#88CCEE"; ///< pipeline sends and receives
inline constexpr std::string_view data_comm = "#44AA99";  ///< exposed data-parallel traffic
inline constexpr std::string_view optimizer = "#999933";  ///< optimizer step
inline constexpr std::string_view idle = "#E8E8E8";       ///< bubble: idle GPU time
inline constexpr std::string_view idle_stroke = "#B0B0B0";

inline constexpr std::string_view weights = "#4477AA";
inline constexpr std::string_view gradients = "#66CCEE";
inline constexpr std::string_view optimizer_states = "#228833";
inline constexpr std::string_view activations = "#CCBB44";
inline constexpr std::string_view other_memory = "#BBBBBB";

inline constexpr std::string_view good = "#228833";
inline constexpr std::string_view warning = "#CCBB44";
inline constexpr std::string_view bad = "#EE6677";
inline constexpr std::string_view highlight = "#AA3377"; ///< marks: stragglers, the chosen plan
inline constexpr std::string_view limit = "#CC3311";     ///< capacity and SLO lines

/// Categorical series (groups of points, tables).
inline constexpr std::string_view series[] = {"#4477AA", "#EE6677", "#228833", "#CCBB44", "#66CCEE", "#AA3377", "#BBBBBB"};

} // namespace brix::viz::colour
