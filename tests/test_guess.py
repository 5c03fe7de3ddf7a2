import torch

from rnn_core.guess import UNSURE_BELOW, best_two


def test_best_two_names_the_likeliest_digit_and_its_runner_up():
    probabilities = torch.tensor([0.05, 0.0, 0.6, 0.0, 0.0, 0.0, 0.0, 0.3, 0.05, 0.0])
    guess = best_two(probabilities)
    assert (guess.digit, guess.second) == (2, 7)
    assert guess.probability == probabilities[2].item() and guess.second_probability == probabilities[7].item()


def test_a_guess_under_the_threshold_is_unsure_and_one_over_it_is_not():
    def with_top(top: float):
        rest = (1 - top) / 9
        return best_two(torch.tensor([top] + [rest] * 9))

    assert with_top(UNSURE_BELOW - 0.01).unsure
    assert not with_top(UNSURE_BELOW + 0.001).unsure
