import io
import os
import pickle
import re
import time
import zipfile
from pathlib import Path

import pytest
import torch

from rnn_core import checkpoint as checkpoint_module
from rnn_core.checkpoint import Checkpoint, CheckpointError, load_checkpoint
from rnn_core.config import ModelConfig, TrainConfig
from rnn_core.history import EpochRecord
from rnn_core.model import RowClassifier
from rnn_core.trainer import Trainer


@pytest.fixture
def trained(tiny_data):
    trainer = Trainer(
        tiny_data, ModelConfig(hidden_size=6, cell_type="GRU"), TrainConfig(epochs=1, batch_size=30, device="cpu")
    )
    trainer.run()
    return trainer


def test_round_trip_rebuilds_the_same_model_with_its_configs_and_history(trained, tmp_path, tiny_data):
    path = tmp_path / "model.pt"
    trained.checkpoint().save(path)
    loaded = load_checkpoint(path)
    assert loaded.model_config == trained.model_config and loaded.train_config == trained.config
    assert loaded.history == tuple(trained.history)
    model = loaded.build_model()
    assert torch.equal(model(tiny_data.test_images), trained.model(tiny_data.test_images))
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_checkpoint_resumes_training_where_it_left_off(trained, tiny_data):
    resumed = Trainer.from_checkpoint(tiny_data, load_checkpoint(trained.checkpoint().to_bytes()))
    resumed.run(epochs=1)
    assert [row.epoch for row in resumed.history] == [0, 1, 2]


class RunsCode:
    def __reduce__(self):
        return (os.system, ("touch pwned-by-checkpoint",))


def test_a_crafted_pickle_is_refused_and_never_runs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    buffer = io.BytesIO()
    torch.save({"format": checkpoint_module.FORMAT, "payload": RunsCode()}, buffer)
    with pytest.raises(CheckpointError, match="refused"):
        load_checkpoint(buffer.getvalue())
    raw_pickle = pickle.dumps(RunsCode())
    with pytest.raises(CheckpointError):
        load_checkpoint(raw_pickle)
    assert not (tmp_path / "pwned-by-checkpoint").exists()


@pytest.mark.parametrize(
    "content, message",
    [
        (b"hello, I am a text file named model.pt\n", "not a PyTorch checkpoint"),
        (b"", "not a PyTorch checkpoint"),
    ],
)
def test_files_that_are_not_torch_files_are_refused(content, message):
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(content)


def test_a_torch_file_that_is_not_ours_is_refused():
    buffer = io.BytesIO()
    torch.save({"weight": torch.zeros(3)}, buffer)
    with pytest.raises(CheckpointError, match="not a checkpoint saved by this app"):
        load_checkpoint(buffer.getvalue())


def test_weights_that_do_not_fit_the_config_are_refused(trained):
    checkpoint = trained.checkpoint()
    checkpoint.state_dict["classifier.weight"] = torch.zeros(10, 99)
    with pytest.raises(CheckpointError, match="damaged checkpoint"):
        load_checkpoint(checkpoint.to_bytes())


def test_an_invalid_config_inside_is_refused(trained):
    checkpoint = trained.checkpoint()
    raw = checkpoint.to_bytes()
    payload = torch.load(io.BytesIO(raw), weights_only=True)
    payload["model_config"]["hidden_size"] = -4
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    with pytest.raises(CheckpointError, match="hidden_size"):
        load_checkpoint(buffer.getvalue())


def test_an_oversized_file_is_refused_before_it_is_read(trained, tmp_path, monkeypatch):
    path = tmp_path / "big.pt"
    trained.checkpoint().save(path)
    monkeypatch.setattr(checkpoint_module, "MAX_CHECKPOINT_BYTES", 100)
    with pytest.raises(CheckpointError, match="larger than"):
        load_checkpoint(path)
    with pytest.raises(CheckpointError, match="larger than"):
        load_checkpoint(io.BytesIO(path.read_bytes()))


def payload_of(raw: bytes) -> dict:
    return torch.load(io.BytesIO(raw), map_location="cpu", weights_only=True)


def saved(payload: dict) -> bytes:
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    return buffer.getvalue()


@pytest.fixture
def trained_adam(tiny_data):
    trainer = Trainer(
        tiny_data, ModelConfig(hidden_size=6), TrainConfig(epochs=1, batch_size=30, optimizer="Adam", device="cpu")
    )
    trainer.run()
    return trainer


def deflated_with_a_huge_entry(raw: bytes, entry_mib: int) -> bytes:
    """The same checkpoint re-zipped with deflate, plus one storage of `entry_mib` MiB of zeros."""
    source, buffer = zipfile.ZipFile(io.BytesIO(raw)), io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as target:
        for entry in source.infolist():
            target.writestr(entry.filename, source.read(entry))
        prefix = source.infolist()[0].filename.split("/")[0]
        with target.open(f"{prefix}/data/999", "w", force_zip64=True) as huge:
            for _ in range(entry_mib):
                huge.write(bytes(2**20))
    return buffer.getvalue()


def test_a_zip_bomb_is_refused_by_its_directory_before_anything_is_inflated(trained, monkeypatch):
    bomb = deflated_with_a_huge_entry(trained.checkpoint().to_bytes(), entry_mib=256)
    assert len(bomb) < 2 * 2**20  # 256 MiB once unpacked

    def never(*args, **kwargs):
        raise AssertionError("torch.load was reached: the bomb would have been inflated")

    monkeypatch.setattr(checkpoint_module.torch, "load", never)
    with pytest.raises(CheckpointError, match=r"refused: it would unpack to 256 MB"):
        load_checkpoint(bomb)


def test_one_oversized_part_is_refused_even_under_the_total_bound(trained):
    bomb = deflated_with_a_huge_entry(trained.checkpoint().to_bytes(), entry_mib=40)
    with pytest.raises(CheckpointError, match=r"one of its parts would unpack to 40.0 MB"):
        load_checkpoint(bomb)


def test_a_pickle_larger_than_any_history_is_refused_unread(trained, monkeypatch):
    payload = payload_of(trained.checkpoint().to_bytes())
    payload["history"] = [dict(payload["history"][-1], epoch=n) for n in range(40_000)]
    raw = saved(payload)
    monkeypatch.setattr(checkpoint_module.torch, "load", lambda *a, **k: pytest.fail("inflated"))
    with pytest.raises(CheckpointError, match=r"one of its parts would unpack to"):
        load_checkpoint(raw)


def test_the_largest_model_allowed_with_adam_state_and_averaged_weights_fits_the_bounds():
    """LSTM, hidden 512, 3 layers, averaging (two sets of weights): its checkpoint measured 81.2 MB,
    under the 100 MB bounds."""
    config = ModelConfig(hidden_size=512, num_layers=3)
    model = RowClassifier(config)
    train_config = TrainConfig(optimizer="Adam", average_from=1)
    optimizer = torch.optim.Adam(model.parameters(), lr=train_config.learning_rate)
    model(torch.rand(2, 28, 28)).sum().backward()
    optimizer.step()
    history = (EpochRecord(0, None, 2.3, 10.0, 0.0, None), EpochRecord(1, 0.4, 0.3, 90.0, 60.0, 1000.0))
    weights = {name: value.clone() for name, value in model.state_dict().items()}
    averaging = {"training_weights": weights, "epochs": 1}
    checkpoint = Checkpoint(config, train_config, model.state_dict(), history, optimizer.state_dict(), None, averaging)
    raw = checkpoint.to_bytes()
    assert 80 * 2**20 < len(raw) < checkpoint_module.MAX_UNPACKED_BYTES
    assert load_checkpoint(raw).model_config == config


@pytest.mark.parametrize(
    "history, message",
    [
        (["epoch 1", "epoch 2"], "history row 0"),
        ({"epoch": 1}, "history must be a list"),
        ([{}], "history row 0: an epoch record lacks"),
        ("abc", "history must be a list"),
    ],
)
def test_a_history_of_the_wrong_shape_is_refused(trained, history, message):
    payload = payload_of(trained.checkpoint().to_bytes())
    payload["history"] = history
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(saved(payload))


@pytest.mark.parametrize("field", ["model_config", "train_config", "state_dict"])
def test_a_field_that_is_not_a_mapping_is_refused(trained, field):
    payload = payload_of(trained.checkpoint().to_bytes())
    payload[field] = [1, 2, 3]
    with pytest.raises(CheckpointError, match=f"{field} must be a mapping"):
        load_checkpoint(saved(payload))


def sgd_state_of(trainer) -> dict:
    optimizer = torch.optim.SGD(trainer.model.parameters(), lr=0.1)
    return optimizer.state_dict()


@pytest.mark.parametrize(
    "make_state",
    [
        lambda trainer: {"foo": 1},
        lambda trainer: {"state": {}, "param_groups": []},
        sgd_state_of,  # an SGD state in a checkpoint whose config says Adam
    ],
    ids=["foo", "no-groups", "wrong-optimizer"],
)
def test_an_optimizer_state_continue_could_not_use_is_refused(trained_adam, make_state):
    payload = payload_of(trained_adam.checkpoint().to_bytes())
    payload["optimizer_state"] = make_state(trained_adam)
    with pytest.raises(CheckpointError, match="the optimizer state is not that of Adam for this model"):
        load_checkpoint(saved(payload))


def test_an_optimizer_state_with_tensors_of_the_wrong_shape_is_refused(trained_adam):
    payload = payload_of(trained_adam.checkpoint().to_bytes())
    payload["optimizer_state"]["state"][0]["exp_avg"] = torch.zeros(3, 3)
    with pytest.raises(CheckpointError, match="the optimizer state is not that of Adam"):
        load_checkpoint(saved(payload))


def test_the_trial_step_on_the_optimizer_state_leaves_the_loaded_state_untouched(trained_adam):
    raw = trained_adam.checkpoint().to_bytes()
    loaded = load_checkpoint(raw)
    saved_state = payload_of(raw)["optimizer_state"]["state"]
    assert all(torch.equal(loaded.optimizer_state["state"][0][key], saved_state[0][key]) for key in saved_state[0])


def test_an_optimizer_state_holding_nan_is_refused(trained_adam):
    payload = payload_of(trained_adam.checkpoint().to_bytes())
    payload["optimizer_state"]["state"][0]["exp_avg_sq"][0] = float("nan")
    with pytest.raises(CheckpointError, match="the optimizer state holds NaN/Inf values"):
        load_checkpoint(saved(payload))


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_nan_or_inf_weights_are_refused_as_such(trained, value):
    checkpoint = trained.checkpoint()
    checkpoint.state_dict["recurrent.weight_hh_l0"][0, 0] = value
    with pytest.raises(CheckpointError, match=r"the weights hold NaN/Inf values \(recurrent.weight_hh_l0\)"):
        load_checkpoint(checkpoint.to_bytes())


def test_a_shape_mismatch_names_the_tensor_and_both_shapes(trained):
    checkpoint = trained.checkpoint()
    checkpoint.state_dict["classifier.weight"] = torch.zeros(10, 99)
    with pytest.raises(
        CheckpointError, match=r"classifier.weight has shape 10x99, but the model in its config needs 10x6"
    ):
        load_checkpoint(checkpoint.to_bytes())


def test_missing_and_unexpected_weights_are_named(trained):
    checkpoint = trained.checkpoint()
    checkpoint.state_dict["extra.weight"] = checkpoint.state_dict.pop("classifier.bias")
    with pytest.raises(CheckpointError, match=r"missing: classifier.bias; unexpected: extra.weight"):
        load_checkpoint(checkpoint.to_bytes())


def garbage_files(trained) -> dict[str, bytes]:
    real = trained.checkpoint().to_bytes()
    crafted = io.BytesIO()
    torch.save({"format": checkpoint_module.FORMAT, "payload": RunsCode()}, crafted)
    bad_pickle = io.BytesIO()
    with zipfile.ZipFile(bad_pickle, "w") as archive:
        archive.writestr("archive/data.pkl", os.urandom(300))
        archive.writestr("archive/version", "3\n")
    return {
        "random": os.urandom(4096),
        "half": real[: len(real) // 2],
        "crafted": crafted.getvalue(),
        "bad-pickle": bad_pickle.getvalue(),
        "raw-pickle": pickle.dumps(RunsCode()),
    }


def test_no_message_ever_passes_on_torchs_advice_to_turn_weights_only_off(trained):
    for name, raw in garbage_files(trained).items():
        with pytest.raises(CheckpointError) as refused:
            load_checkpoint(raw)
        message = str(refused.value).lower()
        assert "weights_only" not in message and "weights only" not in message, (name, message)
        assert "trusted" not in message and "\n" not in message, (name, message)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"generator": torch.zeros(3, dtype=torch.uint8)}, "generator"),
        ({"images_trained": -5}, "images trained"),
        ({"cut_order": torch.zeros(4)}, "cut epoch"),
        ({"cut_batch": "two"}, "batch"),
    ],
)
def test_a_training_position_this_app_would_not_save_is_refused(trained, change, message):
    checkpoint = trained.checkpoint()
    checkpoint.position = {**checkpoint.position, **change}
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(checkpoint.to_bytes())


@pytest.fixture
def averaging(tiny_data):
    trainer = Trainer(tiny_data, ModelConfig(hidden_size=6), TrainConfig(epochs=2, batch_size=30, average_from=1))
    trainer.run()
    return trainer.checkpoint()


def test_an_averaging_checkpoint_keeps_the_mean_as_its_model_and_the_weights_training_goes_on_from(averaging):
    loaded = load_checkpoint(averaging.to_bytes())
    assert loaded.averaging["epochs"] == 2
    for name, value in averaging.state_dict.items():
        assert torch.equal(loaded.state_dict[name], value)
        assert torch.equal(loaded.averaging["training_weights"][name], averaging.averaging["training_weights"][name])
        assert not torch.equal(loaded.state_dict[name], loaded.averaging["training_weights"][name])


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"epochs": 3}, "counts 3 epochs, but its history has 2"),
        ({"epochs": 0}, "counts 0 epochs"),
        ({"epochs": 2.0}, "must be a whole number"),
        ({"training_weights": {"weight": 1}}, "do not match the model"),
        ({"extra": 1}, "exactly training_weights and epochs"),
        ({"training_weights": {"w": torch.zeros(2)}}, "do not match the model"),
    ],
)
def test_averaging_this_app_would_not_save_is_refused(averaging, change, message):
    averaging.averaging = {**averaging.averaging, **change}
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(averaging.to_bytes())


def test_a_file_to_go_on_from_that_lost_the_weights_it_trains_is_refused_but_one_epochs_weights_are_not(averaging):
    averaging.averaging = None
    with pytest.raises(CheckpointError, match="averages the weights from epoch 1, but it holds none to go on from"):
        load_checkpoint(averaging.to_bytes())
    averaging.position = None  # as an epoch's own file keeps it: its weights (the mean) and history
    assert load_checkpoint(averaging.to_bytes()).averaging is None


def test_weights_to_average_in_a_checkpoint_whose_training_does_not_average_are_refused(averaging):
    averaging.train_config = TrainConfig(epochs=2, batch_size=30)
    with pytest.raises(CheckpointError, match="does not average"):
        load_checkpoint(averaging.to_bytes())


def test_a_version_1_checkpoint_without_a_training_position_still_loads(trained):
    checkpoint = trained.checkpoint()
    checkpoint.position = None
    raw = checkpoint.to_bytes()
    loaded = load_checkpoint(raw)
    assert loaded.position is None and loaded.history == tuple(trained.history)


# ----- issue 25: files that cost more than they weigh, and values a run cannot have ----------


def process_memory(field: str) -> int:
    return int(re.search(rf"{field}:\s+(\d+)", Path("/proc/self/status").read_text()).group(1)) * 1024


def cost_of_refusing(raw: bytes, message: str) -> tuple[float, int]:
    """Seconds, and how far this process's resident memory peaked above where it was (Linux:
    writing 5 to clear_refs resets the peak), to refuse `raw` with `message`."""
    Path("/proc/self/clear_refs").write_text("5")
    before, started = process_memory("VmRSS"), time.perf_counter()
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(raw)
    return time.perf_counter() - started, process_memory("VmHWM") - before


def self_referencing_list(depth: int) -> list:
    nested = [0]
    for _ in range(depth):
        nested = [nested, nested]  # 2^depth items when walked as a tree, a few bytes pickled
    return nested


@pytest.mark.parametrize("depth", [21, 30])
def test_self_referencing_lists_in_the_optimizer_state_are_refused_fast_and_small(trained_adam, depth):
    payload = payload_of(trained_adam.checkpoint().to_bytes())
    payload["optimizer_state"]["state"][0]["junk"] = self_referencing_list(depth)
    raw = saved(payload)
    assert len(raw) < 30_000
    seconds, grown = cost_of_refusing(raw, "nested deeper than anything in a checkpoint")
    assert seconds < 1.0 and grown < 5 * 2**20, (seconds, grown)


def expanded_byte(elements: int) -> torch.Tensor:
    """One stored byte seen as a tensor of `elements` bytes (stride 0): tiny on disk, huge once copied."""
    return torch.zeros(1, dtype=torch.uint8).expand(elements)


@pytest.mark.parametrize("where", ["optimizer junk", "history"])
def test_a_one_byte_tensor_expanded_to_a_gib_is_refused_by_its_element_count(trained_adam, where):
    payload = payload_of(trained_adam.checkpoint().to_bytes())
    if where == "optimizer junk":
        payload["optimizer_state"]["state"][0]["junk"] = expanded_byte(2**28)
    else:
        payload["history"][0]["test_loss"] = expanded_byte(2**28)
    raw = saved(payload)
    assert len(raw) < 30_000
    seconds, grown = cost_of_refusing(raw, r"would take 256.0 MB, more than any tensor of this app")
    assert seconds < 1.0 and grown < 5 * 2**20, (seconds, grown)


def test_views_of_one_storage_are_bounded_together(trained_adam, monkeypatch):
    monkeypatch.setattr(checkpoint_module, "MAX_UNPACKED_BYTES", 2**20)
    payload = payload_of(trained_adam.checkpoint().to_bytes())
    shared = torch.zeros(2**16)  # 256 KiB, seen five times
    payload["optimizer_state"]["state"][0]["junk"] = [shared[:] for _ in range(5)]
    with pytest.raises(CheckpointError, match="its tensors would take more than 1 MB"):
        load_checkpoint(saved(payload))


def test_an_optimizer_state_holding_what_that_optimizer_never_holds_is_refused(trained_adam):
    payload = payload_of(trained_adam.checkpoint().to_bytes())
    payload["optimizer_state"]["state"][0]["junk"] = [1, 2, 3]
    with pytest.raises(CheckpointError, match="holds 'junk', which Adam never holds"):
        load_checkpoint(saved(payload))


def test_a_sparse_weight_is_refused_as_such(trained):
    checkpoint = trained.checkpoint()
    checkpoint.state_dict["classifier.bias"] = checkpoint.state_dict["classifier.bias"].to_sparse()
    with pytest.raises(CheckpointError, match=r"state_dict/classifier.bias is a sparse_coo tensor"):
        load_checkpoint(checkpoint.to_bytes())


def test_a_complex_weight_is_refused_not_cut_to_its_real_part(trained):
    checkpoint = trained.checkpoint()
    checkpoint.state_dict["classifier.bias"] = checkpoint.state_dict["classifier.bias"].to(torch.complex64)
    with pytest.raises(CheckpointError, match="holds complex numbers"):
        load_checkpoint(checkpoint.to_bytes())


@pytest.mark.parametrize(
    "field, value", [("test_loss", float("nan")), ("train_seconds", -1e308), ("train_loss", float("inf"))]
)
def test_history_values_a_run_cannot_have_are_refused(trained, field, value):
    payload = payload_of(trained.checkpoint().to_bytes())
    payload["history"][-1][field] = value
    with pytest.raises(CheckpointError, match=f"{field} must be a finite number, not negative"):
        load_checkpoint(saved(payload))


@pytest.mark.parametrize("step", [1e30, -1.0, float("nan"), 2.5])
def test_an_absurd_adam_step_count_is_refused(trained_adam, step):
    payload = payload_of(trained_adam.checkpoint().to_bytes())
    payload["optimizer_state"]["state"][0]["step"] = torch.tensor(step)
    with pytest.raises(CheckpointError, match="a step count no training here can reach"):
        load_checkpoint(saved(payload))


@pytest.mark.parametrize("lr", [1e30, -0.1])
def test_a_learning_rate_other_than_the_train_configs_is_refused(trained_adam, lr):
    payload = payload_of(trained_adam.checkpoint().to_bytes())
    payload["optimizer_state"]["param_groups"][0]["lr"] = lr
    with pytest.raises(CheckpointError, match=r"its lr is .* not its train config's 0.1"):
        load_checkpoint(saved(payload))


def test_random_bytes_before_the_zip_get_their_own_message(trained):
    with pytest.raises(CheckpointError, match="other data before the zip archive"):
        load_checkpoint(os.urandom(512) + trained.checkpoint().to_bytes())


def test_the_longest_history_allowed_passes_the_bounded_walk(trained):
    payload = payload_of(trained.checkpoint().to_bytes())
    payload["history"] = [dict(payload["history"][-1], epoch=n) for n in range(25_000)]
    assert len(load_checkpoint(saved(payload)).history) == 25_000


def test_a_permuted_runs_checkpoint_rebuilds_its_model_and_its_order(tiny_data, tmp_path):
    permuted = ModelConfig(hidden_size=4, reading_order="permuted", order_seed=11)
    trainer = Trainer(tiny_data, permuted, TrainConfig(epochs=1, batch_size=40, train_limit=40, device="cpu"))
    trainer.checkpoint().save(tmp_path / "permuted.pt")
    loaded = load_checkpoint(tmp_path / "permuted.pt")
    assert (loaded.model_config.reading_order, loaded.model_config.order_seed) == ("permuted", 11)
    model = loaded.build_model()
    assert torch.equal(model.order.pixel_order, trainer.model.order.pixel_order)
    images = tiny_data.test_images[:3]
    assert torch.equal(model(images), trainer.model(images))


def test_a_checkpoint_saved_before_reading_orders_reads_by_rows(trained):
    payload = torch.load(io.BytesIO(trained.checkpoint().to_bytes()), weights_only=True)
    for name in ("reading_order", "order_seed"):
        del payload["model_config"][name]
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    assert load_checkpoint(buffer.getvalue()).model_config == trained.model_config
